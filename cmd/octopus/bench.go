package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/internal/bench"
)

// benchCommon holds the flags every bench subcommand shares.
type benchCommon struct {
	brokers  string
	csvPath  string
	label    string
	workload string
}

func (c *benchCommon) brokerList() []string {
	var out []string
	for _, b := range strings.Split(c.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// finish prints the run's summary, appends its CSV row if asked, and
// returns the run's error (after the row, so failed runs are on record).
func (c *benchCommon) finish(cmd *cobra.Command, res bench.Result, runErr error) error {
	if res.Mode != "" {
		fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
		if c.csvPath != "" {
			if err := appendCSV(c.csvPath, res); err != nil {
				return errors.Join(runErr, err)
			}
		}
	}
	return runErr
}

// appendCSV appends res to path, writing the header first if the file is
// new or empty.
func appendCSV(path string, res bench.Result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		err = bench.WriteCSV(f, st.Size() == 0, res)
	}
	return errors.Join(err, f.Close())
}

// benchContext is the command's context, cancelled by SIGINT or SIGTERM.
func benchContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// lingerOpt maps the --linger flag to ProduceConfig.Linger: on the command
// line 0 means no lingering.
func lingerOpt(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func newBenchCmd() *cobra.Command {
	var common benchCommon
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a Kafka-compatible broker (Octopus or any other) with a franz-go client",
		Long: `Measure produce and consume throughput and latency against any Kafka
bootstrap address. Every run is bounded by a record count or a duration.
Each run prints one summary line; --csv appends a CSV row, and
'octopus bench report' turns such CSV into Markdown tables.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&common.brokers, "brokers", "127.0.0.1:9092", "bootstrap brokers, comma-separated")
	pf.StringVar(&common.csvPath, "csv", "", "append the result as a CSV row to this file (header written if new)")
	pf.StringVar(&common.label, "label", "", "name of what is measured, recorded in the CSV (e.g. octopus-fsync-never)")
	pf.StringVar(&common.workload, "workload", "", "name of the workload, recorded in the CSV (default: built from the settings)")
	cmd.AddCommand(newBenchProduceCmd(&common), newBenchConsumeCmd(&common),
		newBenchE2ECmd(&common), newBenchReportCmd(&common))
	return cmd
}

func newBenchProduceCmd(common *benchCommon) *cobra.Command {
	var (
		cfg    bench.ProduceConfig
		linger time.Duration
		noIdem bool
	)
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Produce records as fast as the broker takes them; report rate and latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			cfg.Brokers = common.brokerList()
			cfg.Label, cfg.Workload = common.label, common.workload
			cfg.Linger = lingerOpt(linger)
			cfg.DisableIdempotence = noIdem
			res, err := bench.Produce(ctx, cfg)
			return common.finish(cmd, res, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "octopus-bench", "topic to produce to (created if missing)")
	f.IntVar(&cfg.Partitions, "partitions", 8, "partitions when creating the topic")
	f.IntVar(&cfg.RecordSize, "record-size", 1024, "value bytes per record")
	f.Int64Var(&cfg.Records, "records", 0, "stop after this many records (0: no count bound)")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "stop after this long (0: only --records, capped at 10m)")
	f.IntVar(&cfg.Producers, "producers", 1, "number of producer clients")
	f.StringVar(&cfg.Acks, "acks", "all", "all, 1 or 0")
	f.BoolVar(&noIdem, "no-idempotence", false, "disable idempotent writes (always off for acks 1 and 0)")
	f.DurationVar(&linger, "linger", 10*time.Millisecond, "producer linger (0: none)")
	f.IntVar(&cfg.BatchMaxBytes, "batch-bytes", 1_000_000, "max bytes per record batch")
	f.StringVar(&cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.IntVar(&cfg.MaxBufferedRecords, "max-buffered", 0, "max records buffered per producer (0: kgo default, 50000)")
	return cmd
}

func newBenchConsumeCmd(common *benchCommon) *cobra.Command {
	var cfg bench.ConsumeConfig
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Read a topic from its start; report rate and time to first record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			cfg.Brokers = common.brokerList()
			cfg.Label, cfg.Workload = common.label, common.workload
			res, err := bench.Consume(ctx, cfg)
			return common.finish(cmd, res, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "octopus-bench", "topic to read")
	f.Int64Var(&cfg.Records, "records", 0, "records to read (0: all below the high watermarks at start)")
	f.DurationVar(&cfg.Duration, "duration", 60*time.Second, "cap on the run")
	f.IntVar(&cfg.Consumers, "consumers", 1, "number of consumer clients")
	f.IntVar(&cfg.FetchMaxBytes, "fetch-bytes", 0, "max bytes per fetch response (0: kgo default, 50 MB)")
	f.IntVar(&cfg.FetchMaxPartitionBytes, "partition-fetch-bytes", 0, "max bytes per partition per fetch (0: kgo default, 1 MB)")
	f.StringVar(&cfg.Group, "group", "", "consume as this consumer group (default: direct partition reads, no group)")
	return cmd
}

func newBenchE2ECmd(common *benchCommon) *cobra.Command {
	var (
		cfg    bench.E2EConfig
		linger time.Duration
		noIdem bool
	)
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Produce at a fixed rate and consume; report send-to-receive latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			cfg.Brokers = common.brokerList()
			cfg.Label, cfg.Workload = common.label, common.workload
			cfg.Linger = lingerOpt(linger)
			cfg.DisableIdempotence = noIdem
			res, err := bench.E2E(ctx, cfg)
			return common.finish(cmd, res, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "octopus-bench-e2e", "topic (created if missing)")
	f.IntVar(&cfg.Partitions, "partitions", 1, "partitions when creating the topic")
	f.IntVar(&cfg.RecordSize, "record-size", 1024, "value bytes per record (at least 9)")
	f.IntVar(&cfg.Rate, "rate", 1000, "records per second")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send")
	f.StringVar(&cfg.Acks, "acks", "all", "all, 1 or 0")
	f.BoolVar(&noIdem, "no-idempotence", false, "disable idempotent writes")
	f.DurationVar(&linger, "linger", 0, "producer linger (0: none)")
	f.IntVar(&cfg.BatchMaxBytes, "batch-bytes", 1_000_000, "max bytes per record batch")
	f.StringVar(&cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	return cmd
}

func newBenchReportCmd(common *benchCommon) *cobra.Command {
	var pairs []string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render the --csv file of earlier runs as Markdown tables, with num/den ratios for --pair",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []bench.Pair
			for _, s := range pairs {
				p, err := bench.ParsePair(s)
				if err != nil {
					return err
				}
				ps = append(ps, p)
			}
			if common.csvPath == "" {
				return errors.New("bench report: --csv is required")
			}
			f, err := os.Open(common.csvPath)
			if err != nil {
				return err
			}
			defer f.Close()
			return bench.Report(cmd.OutOrStdout(), f, ps)
		},
	}
	cmd.Flags().StringArrayVar(&pairs, "pair", nil, "labels to compare as num/den (repeatable)")
	return cmd
}
