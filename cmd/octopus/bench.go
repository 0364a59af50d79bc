package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
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

// finish prints the runs' summaries, appends their CSV rows if asked, and
// returns the run's error (after the rows, so failed runs are on record).
func (c *benchCommon) finish(cmd *cobra.Command, runErr error, results ...bench.Result) error {
	var rows []bench.Result
	for _, res := range results {
		if res.Mode != "" {
			fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
			rows = append(rows, res)
		}
	}
	if c.csvPath != "" && len(rows) > 0 {
		if err := appendCSV(c.csvPath, rows...); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// appendCSV appends results to path, writing the header first if the file
// is new or empty.
func appendCSV(path string, results ...bench.Result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		err = bench.WriteCSV(f, st.Size() == 0, results...)
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
		newBenchE2ECmd(&common), newBenchReportCmd(&common), newBenchReadyCmd(&common),
		newBenchMemoryCmd(&common), newBenchRebalanceCmd(&common), newBenchKafkaPerfCmd(&common),
		newBenchDeleteTopicsCmd(&common), newBenchPlotCmd(&common), newBenchLoginCmd(&common))
	return cmd
}

func newBenchLoginCmd(common *benchCommon) *cobra.Command {
	var cfg bench.LoginConfig
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Measure SASL logins per second (connect, SaslHandshake, SaslAuthenticate, close)",
		Long: `Open --connections connections in parallel, each logging in with
--mechanism as --user and closing, over and over for --duration, and report
logins per second and the latency of a login. The client's own SCRAM work
(PBKDF2 of the password, which every Kafka client does per login) runs in
this process. The password comes from $OCTOPUS_BENCH_PASSWORD.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			cfg.Brokers = common.brokerList()
			cfg.Label, cfg.Workload = common.label, common.workload
			cfg.Pass = os.Getenv("OCTOPUS_BENCH_PASSWORD")
			res, err := bench.Login(ctx, cfg)
			return common.finish(cmd, err, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Mechanism, "mechanism", "SCRAM-SHA-512", "SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN")
	f.StringVar(&cfg.User, "user", "admin", "user name")
	f.IntVar(&cfg.Connections, "connections", 4, "logins in parallel")
	f.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long to run")
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
			return common.finish(cmd, err, res)
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
			return common.finish(cmd, err, res)
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
			return common.finish(cmd, err, res)
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
	var pairs, versus []string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render the --csv file of earlier runs as Markdown tables, with ratios for --vs and --pair",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts bench.ReportOptions
			for _, s := range pairs {
				p, err := bench.ParsePair(s)
				if err != nil {
					return err
				}
				opts.Pairs = append(opts.Pairs, p)
			}
			for _, s := range versus {
				v, err := bench.ParseVersus(s)
				if err != nil {
					return err
				}
				opts.Versus = append(opts.Versus, v)
			}
			if common.csvPath == "" {
				return errors.New("bench report: --csv is required")
			}
			f, err := os.Open(common.csvPath)
			if err != nil {
				return err
			}
			defer f.Close()
			return bench.Report(cmd.OutOrStdout(), f, opts)
		},
	}
	cmd.Flags().StringArrayVar(&versus, "vs", nil,
		"octopus/kafka/kfake labels: a table of their figures with Octopus/Kafka and Octopus/kfake ratios (repeatable)")
	cmd.Flags().StringArrayVar(&pairs, "pair", nil, "labels to compare as num/den (repeatable)")
	return cmd
}

func newBenchPlotCmd(common *benchCommon) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "plot",
		Short: "Draw the --csv file of earlier runs as PNG bar charts in --out",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if common.csvPath == "" {
				return errors.New("bench plot: --csv is required")
			}
			f, err := os.Open(common.csvPath)
			if err != nil {
				return err
			}
			defer f.Close()
			paths, err := bench.WriteCharts(f, dir)
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", p)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "out", ".", "directory for the PNG files")
	return cmd
}

func newBenchReadyCmd(common *benchCommon) *cobra.Command {
	var cfg bench.ReadyConfig
	cmd := &cobra.Command{
		Use:   "ready",
		Short: "Poll a broker with ApiVersions; report the time from its process's start to the first answer",
		Long: `Poll the first --brokers address with ApiVersions until it answers, then
report the milliseconds from the broker process's start (from /proc, 10 ms
resolution) to that answer. Give the process as --pid, or as --pid-file to
be read after the answer, so the poller can be started before the broker.
Prints "polling ADDR" on stderr once it polls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			if bs := common.brokerList(); len(bs) > 0 {
				cfg.Addr = bs[0]
			}
			cfg.Label, cfg.Workload = common.label, common.workload
			fmt.Fprintln(cmd.ErrOrStderr(), "polling", cfg.Addr)
			res, err := bench.Ready(ctx, cfg)
			return common.finish(cmd, err, res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.PID, "pid", 0, "the broker's process ID")
	f.StringVar(&cfg.PIDFile, "pid-file", "", "file holding the broker's process ID (read after the broker answers)")
	f.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "give up after this long")
	f.DurationVar(&cfg.Poll, "poll", 5*time.Millisecond, "pause between attempts")
	return cmd
}

func newBenchMemoryCmd(common *benchCommon) *cobra.Command {
	var (
		pid     int
		pidFile string
		phase   string
	)
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "Record a process's resident memory (VmRSS, VmHWM from /proc/PID/status) as two rows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pid == 0 && pidFile != "" {
				b, err := os.ReadFile(pidFile)
				if err != nil {
					return err
				}
				if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
					return fmt.Errorf("bench memory: %s: %w", pidFile, err)
				}
			}
			if pid == 0 {
				return errors.New("bench memory: --pid or --pid-file is required")
			}
			rs, err := bench.MemoryResults(pid, common.label, phase)
			return common.finish(cmd, err, rs...)
		},
	}
	f := cmd.Flags()
	f.IntVar(&pid, "pid", 0, "the broker's process ID")
	f.StringVar(&pidFile, "pid-file", "", "file holding the broker's process ID")
	f.StringVar(&phase, "phase", "idle", "when this is, for the rows' names (\"memory VmRSS <phase>\")")
	return cmd
}

func newBenchRebalanceCmd(common *benchCommon) *cobra.Command {
	var cfg bench.RebalanceConfig
	cmd := &cobra.Command{
		Use:   "rebalance",
		Short: "Time a consumer group's rebalance when a member joins and when one leaves",
		Long: `Start --members franz-go group members on an empty topic, all but the last
first; report the time from the last member's start until every member owns
partitions and together they own each exactly once ("<workload> join"), then
the time from the first member leaving until the rest own every partition
("<workload> leave"). Each --iterations uses a new group; every wait is
bounded by --timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			cfg.Brokers = common.brokerList()
			cfg.Label, cfg.Workload = common.label, common.workload
			rs, err := bench.Rebalance(ctx, cfg)
			return common.finish(cmd, err, rs...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "octopus-bench-rebalance", "topic (created if missing; left empty)")
	f.StringVar(&cfg.Group, "group", "octopus-bench-rebalance", "group name prefix (iteration i uses GROUP-i)")
	f.IntVar(&cfg.Partitions, "partitions", 8, "partitions when creating the topic")
	f.IntVar(&cfg.Members, "members", 4, "group members")
	f.IntVar(&cfg.Iterations, "iterations", 1, "measurements, each with a new group")
	f.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "bound on each wait")
	f.DurationVar(&cfg.Heartbeat, "heartbeat", 100*time.Millisecond, "members' heartbeat interval")
	f.StringVar(&cfg.Balancer, "balancer", "cooperative-sticky", "cooperative-sticky, sticky, range or roundrobin")
	return cmd
}

func newBenchKafkaPerfCmd(common *benchCommon) *cobra.Command {
	var (
		cfg     bench.KafkaToolConfig
		jvmOpts string
	)
	run := func(tool func(context.Context, bench.KafkaToolConfig) (bench.Result, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			cfg.Brokers = common.brokerList()
			cfg.Label, cfg.Workload = common.label, common.workload
			cfg.JVMOpts = strings.Fields(jvmOpts)
			res, err := tool(ctx, cfg)
			return common.finish(cmd, err, res)
		}
	}
	cmd := &cobra.Command{
		Use:   "kafka-perf",
		Short: "Run Apache Kafka's ProducerPerformance or ConsumerPerformance and record its figures",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&cfg.Libs, "kafka-libs", "", "directory of Apache Kafka's jars (scripts/kafka.sh libs)")
	pf.StringVar(&cfg.Java, "java", "java", "java command")
	pf.StringVar(&jvmOpts, "jvm-opts", "-Xmx512M", "the tool JVM's options, space-separated")
	pf.StringVar(&cfg.Topic, "topic", "octopus-bench-tools", "topic")
	pf.Int64Var(&cfg.Records, "records", 0, "records to produce (required) or consume (0: all in the topic)")
	pf.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "kill the tool after this long")
	producer := &cobra.Command{
		Use:   "produce",
		Short: "org.apache.kafka.tools.ProducerPerformance --throughput -1 (creates the topic first)",
		Args:  cobra.NoArgs,
		RunE:  run(bench.KafkaProducerPerf),
	}
	producer.Flags().IntVar(&cfg.Partitions, "partitions", 8, "partitions when creating the topic")
	producer.Flags().IntVar(&cfg.RecordSize, "record-size", 1024, "value bytes per record")
	producer.Flags().StringVar(&cfg.Acks, "acks", "all", "the producer's acks")
	consumer := &cobra.Command{
		Use:   "consume",
		Short: "org.apache.kafka.tools.ConsumerPerformance for the records in the topic",
		Args:  cobra.NoArgs,
		RunE:  run(bench.KafkaConsumerPerf),
	}
	cmd.AddCommand(producer, consumer)
	return cmd
}

func newBenchDeleteTopicsCmd(common *benchCommon) *cobra.Command {
	var topics []string
	cmd := &cobra.Command{
		Use:   "delete-topics",
		Short: "Delete topics (between runs, so brokers that keep data in memory do not grow)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := benchContext(cmd)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return bench.DeleteTopics(ctx, common.brokerList(), topics...)
		},
	}
	cmd.Flags().StringSliceVar(&topics, "topic", nil, "topics to delete (repeatable or comma-separated)")
	return cmd
}
