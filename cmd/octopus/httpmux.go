package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newHTTPMux serves /healthz, /readyz (ready), /metrics (reg), the control
// plane under /api/v1/ and, if asked, Go's profiles.
func newHTTPMux(reg *prometheus.Registry, ready *atomic.Bool, api http.Handler, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", api)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// serveControlOnly runs the control plane alone on an external Kafka
// cluster (--kafka): no embedded broker and no Kafka listener, so several
// such instances can share one PostgreSQL store.
func serveControlOnly(ctx context.Context, f serveFlags, logger *slog.Logger, started time.Time) error {
	hln, err := net.Listen("tcp", f.httpListen)
	if err != nil {
		return fmt.Errorf("--http-listen: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cp, err := startControlPlane(ctx, f.ctl, f.dataDir, nil, nil, "", reg, logger)
	if err != nil {
		hln.Close()
		return err
	}
	defer cp.Close()
	var ready atomic.Bool
	hs := &http.Server{Handler: newHTTPMux(reg, &ready, cp.handler, f.pprof), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if err := hs.Serve(hln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	ready.Store(true)
	logger.Info("ready", "kafka", strings.Split(f.ctl.kafka, ",")[0], "http", hln.Addr().String(),
		"mode", "control plane on external Kafka", "start_ms", float64(time.Since(started).Microseconds())/1000)
	runErr := runUntilStopped(ctx, logger, errc, &ready, hs)
	logger.Info("stopped")
	return runErr
}

// runUntilStopped waits for a signal (ctx) or a listener's failure (errc),
// then marks the server not ready and shuts the HTTP server down, giving
// requests in flight 5 s. It returns the listener's error, if that ended it.
func runUntilStopped(ctx context.Context, logger *slog.Logger, errc <-chan error, ready *atomic.Bool, hs *http.Server) error {
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", strings.TrimSpace(context.Cause(ctx).Error()))
	case runErr = <-errc:
		logger.Error("listener failed", "err", runErr)
	}
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return runErr
}
