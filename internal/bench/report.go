package bench

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Pair names two labels to compare: ratios are Num's figure over Den's.
type Pair struct{ Num, Den string }

// ParsePair reads "num/den".
func ParsePair(s string) (Pair, error) {
	num, den, ok := strings.Cut(s, "/")
	if !ok || num == "" || den == "" {
		return Pair{}, fmt.Errorf("bench: pair %q: want num-label/den-label", s)
	}
	return Pair{num, den}, nil
}

// Versus names an Octopus label and the Apache Kafka and kfake labels it is
// set against: the report gives one table per Versus, with Octopus/Kafka and
// Octopus/kfake ratio columns. Kafka or Kfake may be empty.
type Versus struct{ Octopus, Kafka, Kfake string }

// ParseVersus reads "octopus/kafka/kfake"; either peer may be left empty
// ("octopus-never/kafka/" or "octopus-never//kfake-disk").
func ParseVersus(s string) (Versus, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || (parts[1] == "" && parts[2] == "") {
		return Versus{}, fmt.Errorf("bench: versus %q: want octopus-label/kafka-label/kfake-label", s)
	}
	return Versus{parts[0], parts[1], parts[2]}, nil
}

// ReportOptions selects the comparison tables Report adds to the table of
// every run.
type ReportOptions struct {
	Pairs  []Pair
	Versus []Versus
}

// reportRow is one CSV row keyed by column name.
type reportRow map[string]string

func (r reportRow) num(col string) (float64, bool) {
	v, err := strconv.ParseFloat(r[col], 64)
	return v, err == nil
}

func (r reportRow) mode() Mode { return Mode(r["mode"]) }

// client is the row's client column: "–" for ready and memory rows, which
// no Kafka client drives; files from before the column existed were all
// written by the franz-go code.
func (r reportRow) client() string {
	switch {
	case r["client"] != "":
		return r["client"]
	case r.mode() == ModeReady || r.mode() == ModeMemory:
		return "–"
	}
	return ClientFranzGo
}

// sortKey is the column that orders a workload's runs, picks the median run
// and spans the range: records/s for throughput, p99 for e2e runs (whose
// rate is fixed), the value for ready, memory and rebalance rows.
func sortKey(m Mode) string {
	switch {
	case m == ModeE2E:
		return "p99_ms"
	case m.IsFigure():
		return "value"
	}
	return "records_per_s"
}

// figure is one number a comparison shows for a row: a name and a column.
type figure struct{ name, col string }

// figures are the numbers a comparison shows for rows of mode m: records/s
// for throughput, the three percentiles for e2e, the value (named by its
// unit) for the others.
func figures(m Mode, unit string) []figure {
	switch {
	case m == ModeE2E:
		return []figure{{"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"p99.9 ms", "p999_ms"}}
	case m.IsFigure():
		return []figure{{unit, "value"}}
	}
	return []figure{{"records/s", "records_per_s"}}
}

// wlKey names a workload as run by one client.
type wlKey struct{ workload, client string }

// rowKey names a workload run by one client against one label.
type rowKey struct {
	wlKey
	label string
}

// table is a CSV file's rows grouped by workload, client and label; when a
// group holds several runs (rounds, iterations) its median run stands for it.
type table struct {
	workloads []wlKey  // in order of first appearance
	labels    []string // in order of first appearance
	runs      map[rowKey][]reportRow
	median    map[rowKey]reportRow
	spread    map[rowKey]string // "lowest–highest unit" of the sort key, or "–"
}

// readTable reads CSV written by WriteCSV (possibly several files
// concatenated: rows repeating the header, or of another length, are
// skipped).
func readTable(in io.Reader) (*table, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("bench: report: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("bench: report: no rows")
	}
	header := recs[0]
	t := &table{runs: map[rowKey][]reportRow{}, median: map[rowKey]reportRow{}, spread: map[rowKey]string{}}
	for _, rec := range recs[1:] {
		if slices.Equal(rec, header) || len(rec) != len(header) {
			continue
		}
		row := reportRow{}
		for i, col := range header {
			row[col] = rec[i]
		}
		wk := wlKey{row["workload"], row.client()}
		if !slices.Contains(t.workloads, wk) {
			t.workloads = append(t.workloads, wk)
		}
		if !slices.Contains(t.labels, row["label"]) {
			t.labels = append(t.labels, row["label"])
		}
		k := rowKey{wk, row["label"]}
		t.runs[k] = append(t.runs[k], row)
	}
	for k, rs := range t.runs {
		key := sortKey(rs[0].mode())
		slices.SortStableFunc(rs, func(a, b reportRow) int {
			x, _ := a.num(key)
			y, _ := b.num(key)
			return cmp.Compare(x, y)
		})
		t.median[k] = rs[(len(rs)-1)/2]
		t.spread[k] = "–"
		if len(rs) > 1 {
			unit := " rec/s"
			switch {
			case key == "p99_ms":
				unit = " ms p99"
			case key == "value":
				unit = " " + rs[0]["unit"]
			}
			t.spread[k] = rs[0][key] + "–" + rs[len(rs)-1][key] + unit
		}
	}
	return t, nil
}

// row returns the median run of a workload, client and label.
func (t *table) row(wk wlKey, label string) (reportRow, bool) {
	r, ok := t.median[rowKey{wk, label}]
	return r, ok
}

// Report renders CSV produced by WriteCSV (one or more runs, possibly
// appended by several processes) as Markdown: a table of every throughput
// and latency workload per client and label, a table of the ready, memory
// and rebalance figures, then the comparisons opts asks for. When a
// workload, client and label appear more than once (repeated rounds), the
// median run stands for them: by records/s, by p99 latency for e2e runs,
// by value for the figures; the lower middle one for an even count. The
// runs column says how many there were and the range column gives the
// lowest and highest; the CSV keeps every run.
func Report(w io.Writer, in io.Reader, opts ReportOptions) error {
	t, err := readTable(in)
	if err != nil {
		return err
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	first := true
	section := func() {
		if !first {
			p("\n")
		}
		first = false
	}

	var throughput, figs []string
	for _, wk := range t.workloads {
		for _, lb := range t.labels {
			row, ok := t.row(wk, lb)
			if !ok {
				continue
			}
			k := rowKey{wk, lb}
			if row.mode().IsFigure() {
				figs = append(figs, fmt.Sprintf("| %s | %s | %d | %s | %s | %s |\n",
					wk.workload, lb, len(t.runs[k]), row["value"], row["unit"], t.spread[k]))
				continue
			}
			lat := func(col string) string {
				if v, ok := row.num(col); ok && v > 0 {
					return row[col]
				}
				return "–"
			}
			firstRec := "–"
			if row.mode() == ModeConsume {
				if v, ok := row.num("first_record_ms"); ok && v > 0 {
					firstRec = row["first_record_ms"]
				}
			}
			throughput = append(throughput, fmt.Sprintf("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				wk.workload, wk.client, lb, len(t.runs[k]), row["records_per_s"], row["mb_per_s"],
				lat("p50_ms"), lat("p99_ms"), lat("p999_ms"), firstRec, row["errors"], t.spread[k]))
		}
	}
	if len(throughput) > 0 {
		section()
		p("| workload | client | broker | runs | records/s | MB/s | p50 ms | p99 ms | p99.9 ms | first record ms | errors | range of runs |\n")
		p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range throughput {
			p("%s", s)
		}
	}
	if len(figs) > 0 {
		section()
		p("| measure | broker | runs | value | unit | range of runs |\n")
		p("|---|---|---:|---:|---|---:|\n")
		for _, s := range figs {
			p("%s", s)
		}
	}
	for _, vs := range opts.Versus {
		if lines := t.versus(vs); len(lines) > 0 {
			section()
			p("%s against Apache Kafka (%s) and kfake (%s). Ratios are %s's figure over the peer's: "+
				"for records/s above 1 means %s is faster; for ms and MiB below 1 means %s is quicker or smaller.\n\n",
				vs.Octopus, orDash(vs.Kafka), orDash(vs.Kfake), vs.Octopus, vs.Octopus, vs.Octopus)
			p("| workload | client | figure | %s | %s | %s | Octopus/Kafka | Octopus/kfake |\n",
				vs.Octopus, orDash(vs.Kafka), orDash(vs.Kfake))
			p("|---|---|---|---:|---:|---:|---:|---:|\n")
			for _, s := range lines {
				p("%s", s)
			}
		}
	}
	if lines := t.pairs(opts.Pairs); len(lines) > 0 {
		section()
		p("Ratios: throughput is num/den records/s (above 1: num is faster); latency is num/den (below 1: num is quicker).\n\n")
		p("| workload | client | num / den | throughput | p50 | p99 | p99.9 |\n")
		p("|---|---|---|---:|---:|---:|---:|\n")
		for _, s := range lines {
			p("%s", s)
		}
	}
	if first {
		return errors.New("bench: report: no rows")
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// ratio is a's col over b's, formatted, or "–" when either is missing or
// not positive.
func ratio(a, b reportRow, col string) string {
	if a == nil || b == nil {
		return "–"
	}
	x, ok1 := a.num(col)
	y, ok2 := b.num(col)
	if !ok1 || !ok2 || x <= 0 || y <= 0 {
		return "–"
	}
	if r := x / y; r < 0.095 {
		return strconv.FormatFloat(r, 'g', 2, 64) // 0.0043, not 0.00
	}
	return strconv.FormatFloat(x/y, 'f', 2, 64)
}

// versus returns the Markdown rows of one Versus table: every workload and
// client the Octopus label ran, one row per figure.
func (t *table) versus(vs Versus) []string {
	var lines []string
	for _, wk := range t.workloads {
		oct, ok := t.row(wk, vs.Octopus)
		if !ok {
			continue
		}
		kaf, _ := t.row(wk, vs.Kafka)
		kfk, _ := t.row(wk, vs.Kfake)
		if kaf == nil && kfk == nil {
			continue
		}
		val := func(r reportRow, col string) string {
			if r == nil || r[col] == "" {
				return "–"
			}
			return r[col]
		}
		for _, f := range figures(oct.mode(), oct["unit"]) {
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				wk.workload, wk.client, f.name, val(oct, f.col), val(kaf, f.col), val(kfk, f.col),
				ratio(oct, kaf, f.col), ratio(oct, kfk, f.col)))
		}
	}
	return lines
}

// pairs returns the Markdown rows of the num/den ratio table.
func (t *table) pairs(pairs []Pair) []string {
	var lines []string
	for _, wk := range t.workloads {
		for _, pr := range pairs {
			a, aok := t.row(wk, pr.Num)
			b, bok := t.row(wk, pr.Den)
			if !aok || !bok {
				continue
			}
			if a.mode().IsFigure() {
				continue // the Versus tables compare these
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %s / %s | %s | %s | %s | %s |\n",
				wk.workload, wk.client, pr.Num, pr.Den, ratio(a, b, "records_per_s"),
				ratio(a, b, "p50_ms"), ratio(a, b, "p99_ms"), ratio(a, b, "p999_ms")))
		}
	}
	return lines
}

// WriteCSV writes results as CSV; with header it writes CSVHeader first.
func WriteCSV(w io.Writer, header bool, results ...Result) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
	}
	for _, r := range results {
		if err := cw.Write(r.CSVRow()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
