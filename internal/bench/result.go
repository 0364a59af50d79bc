package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode names the kind of run a Result describes.
type Mode string

// The modes a Result can have.
const (
	ModeProduce Mode = "produce"
	ModeConsume Mode = "consume"
	ModeE2E     Mode = "e2e"
	// ModeReady, ModeMemory and ModeRebalance rows carry one figure in
	// Result.Value, in Result.Unit: start-to-ready time, resident memory,
	// rebalance time.
	ModeReady     Mode = "ready"
	ModeMemory    Mode = "memory"
	ModeRebalance Mode = "rebalance"
)

// The clients a Result can name: this package's franz-go code, or Apache
// Kafka's own ProducerPerformance and ConsumerPerformance tools.
const (
	ClientFranzGo    = "franz-go"
	ClientKafkaTools = "kafka-tools"
)

// IsFigure reports whether rows of mode m carry their figure in Value.
func (m Mode) IsFigure() bool {
	return m == ModeReady || m == ModeMemory || m == ModeRebalance
}

// Result is the outcome of one bounded run. Bytes counts record values and
// keys only (not protocol framing), so MB/s is the payload rate.
type Result struct {
	Mode  Mode
	Label string // who was measured, e.g. "octopus-fsync-never"; free text
	// Workload names what was run, so rows of different labels can be
	// compared; empty means WorkloadName's default.
	Workload string
	Topic    string
	// Client is what drove the load: ClientFranzGo (empty means the same)
	// or ClientKafkaTools.
	Client string

	// Settings the run used, so a CSV row stands on its own.
	Partitions  int
	RecordSize  int
	Clients     int // producers or consumers
	Acks        string
	Compression string
	BatchBytes  int

	Records int64         // records acknowledged (produce) or read (consume)
	Bytes   int64         // payload bytes in those records
	Errors  int64         // records that failed (produce) or fetch errors (consume)
	Elapsed time.Duration // from the first enqueue / client start to the last ack / record

	// Latency is per record: enqueue to promise for produce, send to receive
	// for e2e; zero for consume.
	Latency Latency
	// FirstRecord is the time from client start to the first record
	// consumed; zero for produce.
	FirstRecord time.Duration

	// Value and Unit are the figure of a ready, memory or rebalance row
	// (e.g. 812.5 "ms", 41.2 "MiB"); zero and empty for other modes.
	Value float64
	Unit  string
}

// RecordsPerSec is the record rate over Elapsed.
func (r Result) RecordsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// MBPerSec is the payload rate over Elapsed in 10^6 bytes per second.
func (r Result) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// WorkloadName is Workload, or when that is empty a name built from the
// settings, e.g. "produce 1024B acks=all none 8p x1".
func (r Result) WorkloadName() string {
	if r.Workload != "" {
		return r.Workload
	}
	if r.Mode.IsFigure() {
		return string(r.Mode)
	}
	s := fmt.Sprintf("%s %dB", r.Mode, r.RecordSize)
	if r.Mode != ModeConsume {
		s += fmt.Sprintf(" acks=%s %s", r.Acks, r.Compression)
	}
	return s + fmt.Sprintf(" %dp x%d", r.Partitions, r.Clients)
}

// Summary is a one-line human-readable account of the run.
func (r Result) Summary() string {
	var b strings.Builder
	if r.Label != "" {
		fmt.Fprintf(&b, "[%s] ", r.Label)
	}
	if r.Mode.IsFigure() {
		fmt.Fprintf(&b, "%s: %s %s", r.WorkloadName(), strconv.FormatFloat(r.Value, 'f', 3, 64), r.Unit)
		return b.String()
	}
	if r.Client != "" && r.Client != ClientFranzGo {
		fmt.Fprintf(&b, "(%s) ", r.Client)
	}
	if r.Mode == ModeLogin {
		fmt.Fprintf(&b, "%s: %d logins in %.2fs = %.0f logins/s", r.WorkloadName(), r.Records, r.Elapsed.Seconds(), r.RecordsPerSec())
	} else {
		fmt.Fprintf(&b, "%s %s: %d records (%d B) in %.2fs = %.0f rec/s, %.2f MB/s",
			r.Mode, r.Topic, r.Records, r.RecordSize, r.Elapsed.Seconds(), r.RecordsPerSec(), r.MBPerSec())
	}
	if r.Latency.Count > 0 {
		fmt.Fprintf(&b, "; latency p50 %s p99 %s p99.9 %s max %s",
			fmtMs(r.Latency.P50), fmtMs(r.Latency.P99), fmtMs(r.Latency.P999), fmtMs(r.Latency.Max))
	}
	if r.Mode == ModeConsume && r.FirstRecord > 0 {
		fmt.Fprintf(&b, "; first record after %s", fmtMs(r.FirstRecord))
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "; %d errors", r.Errors)
	}
	return b.String()
}

func fmtMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + "ms"
}

// csvHeader names the columns of CSVRow, in order.
var csvHeader = []string{
	"label", "workload", "mode", "topic", "partitions", "record_size", "clients", "acks",
	"compression", "batch_bytes", "records", "bytes", "errors", "elapsed_s",
	"records_per_s", "mb_per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms",
	"first_record_ms", "client", "value", "unit",
}

// CSVHeader returns the column names for CSVRow.
func CSVHeader() []string { return append([]string(nil), csvHeader...) }

// CSVRow returns the result as CSV fields in CSVHeader order. Durations are
// milliseconds, rates are per second. The client, value and unit columns
// come last, so files written before they existed still read.
func (r Result) CSVRow() []string {
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
	}
	return []string{
		r.Label,
		r.WorkloadName(),
		string(r.Mode),
		r.Topic,
		strconv.Itoa(r.Partitions),
		strconv.Itoa(r.RecordSize),
		strconv.Itoa(r.Clients),
		r.Acks,
		r.Compression,
		strconv.Itoa(r.BatchBytes),
		strconv.FormatInt(r.Records, 10),
		strconv.FormatInt(r.Bytes, 10),
		strconv.FormatInt(r.Errors, 10),
		strconv.FormatFloat(r.Elapsed.Seconds(), 'f', 3, 64),
		strconv.FormatFloat(r.RecordsPerSec(), 'f', 0, 64),
		strconv.FormatFloat(r.MBPerSec(), 'f', 2, 64),
		ms(r.Latency.P50),
		ms(r.Latency.P99),
		ms(r.Latency.P999),
		ms(r.Latency.Max),
		ms(r.FirstRecord),
		r.clientName(),
		strconv.FormatFloat(r.Value, 'f', 3, 64),
		r.Unit,
	}
}

// clientName is Client, or when that is empty ClientFranzGo, except for
// ready and memory rows, which no Kafka client drives.
func (r Result) clientName() string {
	switch {
	case r.Client != "":
		return r.Client
	case r.Mode == ModeReady || r.Mode == ModeMemory:
		return ""
	}
	return ClientFranzGo
}
