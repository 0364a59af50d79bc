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
)

// Result is the outcome of one bounded run. Bytes counts record values and
// keys only (not protocol framing), so MB/s is the payload rate.
type Result struct {
	Mode  Mode
	Label string // who was measured, e.g. "octopus-fsync-never"; free text
	// Workload names what was run, so rows of different labels can be
	// compared; empty means WorkloadName's default.
	Workload string
	Topic    string

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
	fmt.Fprintf(&b, "%s %s: %d records (%d B) in %.2fs = %.0f rec/s, %.2f MB/s",
		r.Mode, r.Topic, r.Records, r.RecordSize, r.Elapsed.Seconds(), r.RecordsPerSec(), r.MBPerSec())
	if r.Latency.Count > 0 {
		fmt.Fprintf(&b, "; latency p50 %s p99 %s p99.9 %s max %s",
			fmtMs(r.Latency.P50), fmtMs(r.Latency.P99), fmtMs(r.Latency.P999), fmtMs(r.Latency.Max))
	}
	if r.Mode == ModeConsume {
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
	"first_record_ms",
}

// CSVHeader returns the column names for CSVRow.
func CSVHeader() []string { return append([]string(nil), csvHeader...) }

// CSVRow returns the result as CSV fields in CSVHeader order. Durations are
// milliseconds, rates are per second.
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
	}
}
