package apibench

import (
	"fmt"
	"io"
	"time"

	"github.com/octofabric/octopus/internal/bench"
)

// Target is the bound on a control-plane call's p99.
const Target = 20 * time.Millisecond

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// WriteMarkdown writes the result as Markdown tables: per phase, count,
// p50, p99 and max of each operation; then, per scale-up operation, the
// same per batch, so that growth with size shows.
func (res *Result) WriteMarkdown(w io.Writer) {
	c := res.Config
	fmt.Fprintf(w, "Workload: %d identities (one key each), %d topics, %d grants; %d calls of each operation per steady-state concurrency.\n\n",
		c.Identities, c.Topics, c.Grants, c.Steady)
	fmt.Fprintln(w, "| phase | operation | calls | p50 ms | p99 ms | max ms | p99 < 20 ms |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---|")
	for _, p := range res.Phases {
		phase := p.Name
		if p.Name != "scale-up" {
			phase = fmt.Sprintf("%s, concurrency %d", p.Name, p.Concurrency)
		}
		for _, o := range p.Ops {
			s := o.All.Summary()
			if s.Count == 0 {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s |\n", phase, o.Name, s.Count,
				ms(s.P50), ms(s.P99), ms(s.Max), yesNo(s.P99 < Target))
		}
	}
	for _, p := range res.Phases {
		for _, o := range p.Ops {
			if len(o.Batches) < 2 {
				continue
			}
			fmt.Fprintf(w, "\nGrowth, %s (scale-up, batches of %d calls):\n\n", o.Name, c.Batch)
			fmt.Fprintln(w, "| calls | p50 ms | p99 ms | max ms |")
			fmt.Fprintln(w, "|---|---:|---:|---:|")
			for i, h := range o.Batches {
				s := h.Summary()
				fmt.Fprintf(w, "| %d–%d | %s | %s | %s |\n", i*c.Batch+1, i*c.Batch+int(s.Count), ms(s.P50), ms(s.P99), ms(s.Max))
			}
			first, last := o.Batches[0].Summary(), o.Batches[len(o.Batches)-1].Summary()
			fmt.Fprintf(w, "\nLast batch / first batch: p50 %s, p99 %s.\n", ratio(last.P50, first.P50), ratio(last.P99, first.P99))
		}
	}
}

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Summaries returns every operation's summary by phase label, for tests
// and callers that render their own report.
func (res *Result) Summaries() map[string]bench.Latency {
	out := make(map[string]bench.Latency)
	for _, p := range res.Phases {
		for _, o := range p.Ops {
			out[fmt.Sprintf("%s/c%d/%s", p.Name, p.Concurrency, o.Name)] = o.All.Summary()
		}
	}
	return out
}
