package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/broker/group"
	plog "github.com/octofabric/octopus/internal/log"
)

type serveFlags struct {
	dataDir           string
	listen            listenerFlags
	sec               securityFlags
	ctl               controlFlags
	httpListen        string
	fsync             string
	fsyncInterval     time.Duration
	defaultPartitions int32
	autoCreate        bool
	maxRequestBytes   int32
	retention         time.Duration
	retentionBytes    int64
	segmentBytes      int64
	rebalanceDelay    time.Duration
	offsetsRetention  time.Duration
	logLevel          string
	logFormat         string
	pprof             bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded Kafka-compatible broker and the HTTP endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.listen.kafkaListenSet = cmd.Flags().Changed("kafka-listen")
			return serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "./octopus-data", "directory for logs and metadata")
	fl.StringVar(&f.httpListen, "http-listen", "127.0.0.1:8000", "HTTP listener for /healthz, /readyz and /metrics")
	fl.StringVar(&f.fsync, "fsync", "always", "when to fsync: always (acks=all waits for disk; group commit), interval, never")
	fl.DurationVar(&f.fsyncInterval, "fsync-interval", time.Second, "fsync period under --fsync interval")
	fl.Int32Var(&f.defaultPartitions, "default-partitions", 1, "partitions of auto-created topics and of CreateTopics without a count")
	fl.BoolVar(&f.autoCreate, "auto-create-topics", true, "create unknown topics when a client asks for their metadata")
	fl.Int32Var(&f.maxRequestBytes, "max-request-bytes", 100<<20, "largest request frame accepted")
	fl.DurationVar(&f.retention, "retention", 7*24*time.Hour, "default topic retention by age (retention.ms); negative = forever")
	fl.Int64Var(&f.retentionBytes, "retention-bytes", -1, "default partition retention by size (retention.bytes); -1 = unlimited")
	fl.Int64Var(&f.segmentBytes, "segment-bytes", 1<<30, "default segment size (segment.bytes)")
	fl.DurationVar(&f.rebalanceDelay, "group-initial-rebalance-delay", 3*time.Second, "wait this long for more members before a new group's first rebalance (group.initial.rebalance.delay.ms); 0 for none")
	fl.DurationVar(&f.offsetsRetention, "offsets-retention", 7*24*time.Hour, "drop committed offsets of groups empty for this long (offsets.retention.minutes)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.BoolVar(&f.pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on the HTTP listener")
	addListenerFlags(cmd, &f.listen)
	addSecurityFlags(cmd, &f.sec)
	addControlFlags(cmd, &f.ctl)
	return cmd
}

// nonZero maps 0 to -1, which group.Config reads as "none" (0 means default).
func nonZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func serve(ctx context.Context, f serveFlags) error {
	started := time.Now()
	logger, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	policy, err := plog.ParseFsyncPolicy(f.fsync)
	if err != nil {
		return fmt.Errorf("--fsync: %w", err)
	}
	plans, sp, err := resolveListeners(f.listen, f.sec)
	if err != nil {
		return err
	}
	for _, w := range sp.Warnings {
		logger.Warn(w)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if f.ctl.kafka != "" {
		return serveControlOnly(ctx, f, logger, started)
	}
	// The control plane runs on the embedded broker only with a SASL
	// listener (its keys are SCRAM users), as a super user of its own.
	ctlDisabled := ""
	if f.ctl.kafka == "" {
		ctlDisabled = embeddedControl(&sp.Config, plans)
	}

	b, err := broker.New(broker.Config{
		DataDir:           f.dataDir,
		Fsync:             policy,
		FsyncInterval:     f.fsyncInterval,
		DefaultPartitions: f.defaultPartitions,
		AutoCreateTopics:  f.autoCreate,
		MaxRequestBytes:   f.maxRequestBytes,
		Log: plog.Config{
			RetentionAge:   f.retention,
			RetentionBytes: f.retentionBytes,
			SegmentBytes:   f.segmentBytes,
		},
		Groups: group.Config{
			InitialRebalanceDelay: nonZero(f.rebalanceDelay),
			OffsetsRetention:      f.offsetsRetention,
		},
		Security: sp.Config,
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	tlsCfg, auto, err := serverTLS(f.sec, sp, f.dataDir, plans, logger)
	if err != nil {
		b.Close()
		return err
	}
	bound, err := listenAll(plans, tlsCfg)
	if err != nil {
		b.Close()
		return err
	}
	fail := func(err error) error {
		closeListeners(bound)
		b.Close()
		return err
	}
	hln, err := net.Listen("tcp", f.httpListen)
	if err != nil {
		return fail(fmt.Errorf("--http-listen: %w", err))
	}
	if err := firstAdmin(b.Credentials(), f.dataDir, sp, bound, auto, logger); err != nil {
		hln.Close()
		return fail(err)
	}
	apiHandler := disabledAPI(ctlDisabled)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	closeCP := func() {}
	if ctlDisabled == "" {
		caFile := ""
		if auto != nil {
			caFile, _ = filepath.Abs(auto.CACert)
		}
		cp, err := startControlPlane(ctx, f.ctl, f.dataDir, b, bound, caFile, reg, logger)
		if err != nil {
			hln.Close()
			return fail(err)
		}
		// Closed before the broker (below), so that triggers drain and
		// commit while it still serves; the defer covers early returns.
		closeCP = cp.Close
		defer func() { closeCP() }()
		apiHandler = cp.handler
	} else {
		logger.Info("control plane off", "reason", ctlDisabled)
	}

	var ready atomic.Bool
	if err := b.Metrics().Register(reg); err != nil {
		hln.Close()
		return fail(err)
	}
	mux := newHTTPMux(reg, &ready, apiHandler, f.pprof)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, len(bound)+1)
	for _, bl := range bound {
		logger.Info("kafka listener", "name", bl.cfg.Name, "addr", bl.ln.Addr().String(),
			"advertise", bl.cfg.Advertise, "authenticates", bl.cfg.Authenticates())
		go func() { errc <- b.ServeListener(bl.ln, bl.cfg) }()
	}
	go func() {
		if err := hs.Serve(hln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	ready.Store(true)
	logger.Info("ready", "kafka", bound[0].ln.Addr().String(), "listeners", listenersField(bound),
		"http", hln.Addr().String(), "authorize", sp.Config.Authorize,
		"data_dir", f.dataDir, "fsync", policy.String(), "cluster_id", b.ClusterID(),
		"start_ms", float64(time.Since(started).Microseconds())/1000)

	runErr := runUntilStopped(ctx, logger, errc, &ready, hs)
	closeCP()
	closeCP = func() {}
	if err := b.Close(); err != nil {
		logger.Error("closing logs", "err", err)
		return err
	}
	logger.Info("stopped")
	return runErr
}
