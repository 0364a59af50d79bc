package bench

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGlyphsCoverASCII(t *testing.T) {
	for r := rune(' '); r <= '~'; r++ {
		if _, ok := glyphs[r]; !ok {
			t.Errorf("no glyph for %q", r)
		}
	}
	// Distinct characters must not share a bitmap.
	seen := map[[glyphH]uint8]rune{}
	for r, g := range glyphs {
		if r == '–' || r == ' ' {
			continue
		}
		if o, ok := seen[g]; ok {
			t.Errorf("%q and %q look the same", r, o)
		}
		seen[g] = r
	}
}

func TestChartPNG(t *testing.T) {
	c := &Chart{
		Title:  "Produce throughput (records/s)",
		Labels: []string{"octopus-never", "kafka"},
		Groups: []ChartGroup{
			{Title: "produce 1KiB acks=all 8p x1", Bars: []ChartBar{
				{Label: "octopus-never", Values: []float64{765000}},
				{Label: "kafka", Values: []float64{298000}},
				{Label: "kfake-mem", Values: []float64{0}},
			}},
			{Title: "produce 100B acks=all 8p x1", Bars: []ChartBar{
				{Label: "octopus-never", Values: []float64{1707556}},
			}},
		},
	}
	var buf bytes.Buffer
	if err := c.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	lh := lineHeight(chartScale)
	// margins, title, 2 group titles, 4 bars, 2 group gaps
	wantH := 2*chartMargin + lh + 6 + 2*lh + 4*(barHeight+barGap) + 2*groupGap
	if b := img.Bounds(); b != image.Rect(0, 0, chartWidth, wantH) {
		t.Fatalf("bounds %v, want %dx%d", b, chartWidth, wantH)
	}
	// The first bar is the longest of its group and drawn in the first
	// label's colour; the second is shorter, in the second colour.
	barX := chartMargin + textWidth("octopus-never", chartScale) + 10
	y := chartMargin + lh + 6 + lh + barHeight/2
	if got := img.At(barX+5, y); !sameColour(got, palette[0]) {
		t.Errorf("first bar colour %v", got)
	}
	if got := img.At(barX+5, y+barHeight+barGap); !sameColour(got, palette[1]) {
		t.Errorf("second bar colour %v", got)
	}
	if got := img.At(chartWidth-chartMargin-1, y); !sameColour(got, colBg) {
		t.Errorf("right margin not background: %v", got)
	}
}

func sameColour(a, b interface{ RGBA() (r, g, b, a uint32) }) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestFmtNum(t *testing.T) {
	for in, want := range map[float64]string{
		0: "–", 1707556: "1.71M", 765000: "765.0k", 812: "812", 12.34: "12.3", 2.933: "2.93", 0.245: "0.245",
	} {
		if got := fmtNum(in); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteCharts(t *testing.T) {
	var csvBuf bytes.Buffer
	rows := []Result{
		{Mode: ModeProduce, Label: "octopus-never", Workload: "produce 1KiB", Records: 100, Elapsed: time.Second},
		{Mode: ModeProduce, Label: "kafka", Workload: "produce 1KiB", Records: 50, Elapsed: time.Second},
		{Mode: ModeProduce, Label: "kafka", Client: ClientKafkaTools, Workload: "produce 1KiB", Records: 40, Elapsed: time.Second},
		{Mode: ModeE2E, Label: "kafka", Workload: "e2e", Records: 10, Elapsed: time.Second,
			Latency: Latency{P50: time.Millisecond, P99: 2 * time.Millisecond, P999: 3 * time.Millisecond}},
		{Mode: ModeMemory, Label: "kafka", Workload: "memory VmRSS idle", Value: 300, Unit: "MiB"},
	}
	if err := WriteCSV(&csvBuf, true, rows...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := WriteCharts(&csvBuf, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bench-latency.png", "bench-produce.png", "bench-start-memory-rebalance.png"}
	if len(paths) != len(want) {
		t.Fatalf("wrote %v", paths)
	}
	for i, p := range paths {
		if filepath.Base(p) != want[i] {
			t.Fatalf("wrote %v, want %v", paths, want)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != chartWidth || cfg.Height < 100 {
			t.Fatalf("%s: %+v, %v", p, cfg, err)
		}
	}
	// A chart to look at while changing the drawing code:
	// OCTOPUS_CHART_DIR=/tmp/charts go test -run TestWriteCharts ./internal/bench
	if d := os.Getenv("OCTOPUS_CHART_DIR"); d != "" {
		csvBuf.Reset()
		_ = WriteCSV(&csvBuf, true, rows...)
		if _, err := WriteCharts(&csvBuf, d); err != nil {
			t.Fatal(err)
		}
	}
}
