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

// reportRow is one CSV row keyed by column name.
type reportRow map[string]string

func (r reportRow) num(col string) (float64, bool) {
	v, err := strconv.ParseFloat(r[col], 64)
	return v, err == nil
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

// Report renders CSV produced by WriteCSV (one or more runs, possibly
// appended by several processes) as Markdown: a table of every workload and
// label, then for each pair a table of ratios. When a workload and label
// appear more than once (repeated rounds), the median run stands for them:
// by records/s, or by p99 latency for e2e runs, whose rate is fixed; the
// lower middle one for an even count. The runs column says how many there
// were and the range column gives the lowest and highest; the CSV keeps
// every run. Rows that repeat the header are skipped, so concatenated files
// work.
func Report(w io.Writer, in io.Reader, pairs []Pair) error {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return fmt.Errorf("bench: report: %w", err)
	}
	if len(recs) == 0 {
		return errors.New("bench: report: no rows")
	}
	header := recs[0]
	var (
		workloads []string
		labels    []string
		all       = map[[2]string][]reportRow{}
	)
	for _, rec := range recs[1:] {
		if slices.Equal(rec, header) || len(rec) != len(header) {
			continue
		}
		row := reportRow{}
		for i, col := range header {
			row[col] = rec[i]
		}
		wl, lb := row["workload"], row["label"]
		if !slices.Contains(workloads, wl) {
			workloads = append(workloads, wl)
		}
		if !slices.Contains(labels, lb) {
			labels = append(labels, lb)
		}
		all[[2]string{wl, lb}] = append(all[[2]string{wl, lb}], row)
	}
	rows := make(map[[2]string]reportRow, len(all))
	spread := make(map[[2]string]string, len(all)) // "lowest–highest" of the sort key
	for k, rs := range all {
		key := "records_per_s"
		if rs[0]["mode"] == string(ModeE2E) {
			key = "p99_ms"
		}
		slices.SortStableFunc(rs, func(a, b reportRow) int {
			x, _ := a.num(key)
			y, _ := b.num(key)
			return cmp.Compare(x, y)
		})
		rows[k] = rs[(len(rs)-1)/2]
		spread[k] = "–"
		if len(rs) > 1 {
			unit := " rec/s"
			if key == "p99_ms" {
				unit = " ms p99"
			}
			spread[k] = rs[0][key] + "–" + rs[len(rs)-1][key] + unit
		}
	}

	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("| workload | broker | runs | records/s | MB/s | p50 ms | p99 ms | p99.9 ms | first record ms | errors | range of runs |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, wl := range workloads {
		for _, lb := range labels {
			row, ok := rows[[2]string{wl, lb}]
			if !ok {
				continue
			}
			lat := func(col string) string {
				if v, ok := row.num(col); ok && v > 0 {
					return row[col]
				}
				return "–"
			}
			first := "–"
			if row["mode"] == string(ModeConsume) {
				first = row["first_record_ms"]
			}
			k := [2]string{wl, lb}
			p("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", wl, lb, len(all[k]),
				row["records_per_s"], row["mb_per_s"],
				lat("p50_ms"), lat("p99_ms"), lat("p999_ms"), first, row["errors"], spread[k])
		}
	}
	if len(pairs) == 0 {
		return nil
	}

	var ratios []string
	for _, wl := range workloads {
		for _, pr := range pairs {
			a, aok := rows[[2]string{wl, pr.Num}]
			b, bok := rows[[2]string{wl, pr.Den}]
			if !aok || !bok {
				continue
			}
			ratio := func(col string) string {
				x, ok1 := a.num(col)
				y, ok2 := b.num(col)
				if !ok1 || !ok2 || x <= 0 || y <= 0 {
					return "–"
				}
				return strconv.FormatFloat(x/y, 'f', 2, 64)
			}
			ratios = append(ratios, fmt.Sprintf("| %s | %s / %s | %s | %s | %s | %s |\n", wl, pr.Num, pr.Den,
				ratio("records_per_s"), ratio("p50_ms"), ratio("p99_ms"), ratio("p999_ms")))
		}
	}
	if len(ratios) == 0 {
		return nil
	}
	p("\nRatios: throughput is num/den records/s (above 1: num is faster); latency is num/den (below 1: num is quicker).\n\n")
	p("| workload | num / den | throughput | p50 | p99 | p99.9 |\n")
	p("|---|---|---:|---:|---:|---:|\n")
	for _, r := range ratios {
		p("%s", r)
	}
	return nil
}
