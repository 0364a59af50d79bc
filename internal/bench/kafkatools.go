package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The classes of Apache Kafka's own load tools (kafka-producer-perf-test.sh
// and kafka-consumer-perf-test.sh run them), in the kafka-tools jar.
const (
	producerPerfClass = "org.apache.kafka.tools.ProducerPerformance"
	consumerPerfClass = "org.apache.kafka.tools.ConsumerPerformance"
)

// KafkaToolConfig describes one run of Apache Kafka's ProducerPerformance
// or ConsumerPerformance against Brokers: the second client of the
// comparison, so that no figure depends on franz-go alone.
type KafkaToolConfig struct {
	// Libs is the directory of Kafka's jars (`scripts/kafka.sh libs`).
	Libs string
	Java string // the java command (default "java")
	// JVMOpts are the tool JVM's options (default -Xmx512M, the heap
	// Kafka's kafka-*-perf-test.sh scripts give it).
	JVMOpts []string

	Brokers []string
	Topic   string
	// Partitions creates Topic with this many partitions before producing
	// (default 8), so the tool does not auto-create it with the broker's
	// default.
	Partitions int
	RecordSize int    // producer: value bytes (default 1024)
	Records    int64  // producer: records to send (required); consumer: 0 means all in the topic
	Acks       string // producer: acks (default all)
	// Timeout kills the tool after this long (default 2 minutes); the run
	// then fails.
	Timeout time.Duration

	Label    string
	Workload string
}

func (c *KafkaToolConfig) defaults() error {
	if c.Libs == "" {
		return errors.New("bench: no Kafka libs directory")
	}
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	if c.Topic == "" {
		return errors.New("bench: no topic")
	}
	if c.Java == "" {
		c.Java = "java"
	}
	if c.JVMOpts == nil {
		c.JVMOpts = []string{"-Xmx512M"}
	}
	if c.Partitions <= 0 {
		c.Partitions = 8
	}
	if c.RecordSize <= 0 {
		c.RecordSize = 1024
	}
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	return nil
}

// runTool runs a tool class and returns its standard output.
func (c *KafkaToolConfig) runTool(ctx context.Context, class string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	argv := append(append(append([]string(nil), c.JVMOpts...), "-cp", strings.TrimRight(c.Libs, "/")+"/*", class), args...)
	cmd := exec.CommandContext(ctx, c.Java, argv...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v: %w", c.Timeout, ctx.Err())
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("bench: %s: %w; stderr: %s", class, err, lastLines(stderr.String(), 5))
	}
	return stdout.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// KafkaProducerPerf creates the topic, runs ProducerPerformance (no
// throttling, acks as configured, the tool's other defaults) and parses its
// summary line into a produce row with Client ClientKafkaTools.
func KafkaProducerPerf(ctx context.Context, cfg KafkaToolConfig) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	if cfg.Records <= 0 {
		return Result{}, errors.New("bench: ProducerPerformance needs a record count")
	}
	admCl, adm, err := newAdmin(cfg.Brokers, nil)
	if err != nil {
		return Result{}, err
	}
	_, err = ensureTopic(ctx, adm, cfg.Topic, cfg.Partitions)
	admCl.Close()
	if err != nil {
		return Result{}, err
	}
	out, err := cfg.runTool(ctx, producerPerfClass,
		"--bootstrap-server", strings.Join(cfg.Brokers, ","),
		"--topic", cfg.Topic,
		"--num-records", strconv.FormatInt(cfg.Records, 10),
		"--record-size", strconv.Itoa(cfg.RecordSize),
		"--throughput", "-1",
		"--command-property", "acks="+cfg.Acks)
	if err != nil {
		return Result{}, err
	}
	res, err := ParseProducerPerf(out, cfg.RecordSize)
	res.Label, res.Workload, res.Topic, res.Partitions, res.Acks = cfg.Label, cfg.Workload, cfg.Topic, cfg.Partitions, cfg.Acks
	return res, err
}

// KafkaConsumerPerf runs ConsumerPerformance on the topic (as a consumer
// group of one, the tool's only mode) for every record in it, or
// cfg.Records, and parses its summary into a consume row with Client
// ClientKafkaTools. The tool's figure, and so the row's, runs from before
// the group join to the last record.
func KafkaConsumerPerf(ctx context.Context, cfg KafkaToolConfig) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	admCl, adm, err := newAdmin(cfg.Brokers, nil)
	if err != nil {
		return Result{}, err
	}
	parts, err := waitTopic(ctx, adm, cfg.Topic, 15*time.Second)
	target := cfg.Records
	if err == nil && target <= 0 {
		// The tool waits --timeout for records that never come if asked
		// for more than there are, and counts the wait: ask for exactly
		// what the topic holds.
		starts, err1 := adm.ListStartOffsets(ctx, cfg.Topic)
		ends, err2 := adm.ListEndOffsets(ctx, cfg.Topic)
		err = errors.Join(err1, err2, starts.Error(), ends.Error())
		ends.Each(func(o kadm.ListedOffset) {
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
				target += o.Offset - s.Offset
			}
		})
	}
	admCl.Close()
	if err != nil {
		return Result{}, err
	}
	if target <= 0 {
		return Result{}, fmt.Errorf("bench: topic %s has no records to consume", cfg.Topic)
	}
	out, err := cfg.runTool(ctx, consumerPerfClass,
		"--bootstrap-server", strings.Join(cfg.Brokers, ","),
		"--topic", cfg.Topic,
		"--num-records", strconv.FormatInt(target, 10),
		"--timeout", "10000")
	if err != nil {
		return Result{}, err
	}
	res, err := ParseConsumerPerf(out)
	res.Label, res.Workload, res.Topic, res.Partitions = cfg.Label, cfg.Workload, cfg.Topic, len(parts)
	if err == nil && res.Records < target {
		err = fmt.Errorf("bench: ConsumerPerformance read %d of %d records", res.Records, target)
	}
	return res, err
}

// producerSummary matches ProducerPerformance's final line, e.g.
//
//	300000 records sent, 31668.953869 records/sec (30.93 MB/sec), 871.93 ms avg latency, 2126.00 ms max latency, 772 ms 50th, 1737 ms 95th, 2066 ms 99th, 2121 ms 99.9th.
//
// The progress lines printed every few seconds lack the percentiles.
var producerSummary = regexp.MustCompile(`(?m)^(\d+) records sent, ([\d.]+) records/sec \([\d.]+ MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.`)

// ParseProducerPerf reads ProducerPerformance's output (the last summary
// line, the whole run's) into a produce row: records, elapsed (records over
// the tool's rate), bytes (records times recordSize) and latency (the
// tool's send-to-acknowledgement percentiles, whole milliseconds).
func ParseProducerPerf(out string, recordSize int) (Result, error) {
	res := Result{Mode: ModeProduce, Client: ClientKafkaTools, RecordSize: recordSize, Clients: 1, Compression: "none"}
	all := producerSummary.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return res, fmt.Errorf("bench: no ProducerPerformance summary in %q", lastLines(out, 3))
	}
	m := all[len(all)-1]
	f := make([]float64, len(m))
	for i := 1; i < len(m); i++ {
		v, err := strconv.ParseFloat(m[i], 64)
		if err != nil {
			return res, fmt.Errorf("bench: ProducerPerformance summary field %q: %w", m[i], err)
		}
		f[i] = v
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	res.Records = int64(f[1])
	if f[2] > 0 {
		res.Elapsed = time.Duration(f[1] / f[2] * float64(time.Second))
	}
	res.Bytes = res.Records * int64(recordSize)
	res.Latency = Latency{Count: uint64(res.Records), Mean: ms(f[3]), Max: ms(f[4]), P50: ms(f[5]), P99: ms(f[7]), P999: ms(f[8])}
	return res, nil
}

// parseConsumerTime reads a time in ConsumerPerformance's default
// --date-format, yyyy-MM-dd HH:mm:ss:SSS (milliseconds after a colon, which
// Go's layouts cannot express), in local time.
func parseConsumerTime(s string) (time.Time, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return time.Time{}, fmt.Errorf("bench: ConsumerPerformance time %q", s)
	}
	return time.ParseInLocation("2006-01-02 15:04:05.000", s[:i]+"."+s[i+1:], time.Local)
}

// ParseConsumerPerf reads ConsumerPerformance's output: a header line
// "start.time, end.time, data.consumed.in.MB, MB.sec,
// data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms,
// fetch.MB.sec, fetch.nMsg.sec" and a line of values (the tool's MB are
// MiB). Elapsed runs from start.time to end.time (millisecond resolution),
// which includes the group join (rebalance.time.ms), as the tool's own
// nMsg.sec does.
func ParseConsumerPerf(out string) (Result, error) {
	res := Result{Mode: ModeConsume, Client: ClientKafkaTools, Clients: 1}
	var header []string
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Split(strings.TrimSpace(line), ",")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if len(fields) > 0 && fields[0] == "start.time" {
			header = fields
			continue
		}
		if header == nil || len(fields) != len(header) {
			continue
		}
		val := map[string]string{}
		for i, h := range header {
			val[h] = fields[i]
		}
		num := func(k string) (float64, error) {
			v, err := strconv.ParseFloat(val[k], 64)
			if err != nil {
				return 0, fmt.Errorf("bench: ConsumerPerformance %s: %w", k, err)
			}
			return v, nil
		}
		n, err1 := num("data.consumed.in.nMsg")
		mb, err2 := num("data.consumed.in.MB")
		rate, err3 := num("nMsg.sec")
		if err := errors.Join(err1, err2, err3); err != nil {
			return res, err
		}
		res.Records = int64(n)
		res.Bytes = int64(mb*(1<<20) + 0.5)
		start, errS := parseConsumerTime(val["start.time"])
		end, errE := parseConsumerTime(val["end.time"])
		switch {
		case errS == nil && errE == nil && end.After(start):
			res.Elapsed = end.Sub(start)
		case rate > 0:
			res.Elapsed = time.Duration(n / rate * float64(time.Second))
		}
		if res.Records > 0 {
			res.RecordSize = int(math.Round(float64(res.Bytes) / float64(res.Records)))
		}
		return res, nil
	}
	return res, fmt.Errorf("bench: no ConsumerPerformance summary in %q", lastLines(out, 3))
}
