package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Chart is a horizontal bar chart: groups of bars, each bar a label and one
// value per series, each group scaled to its own largest value (groups may
// have different units) with every value written at the end of its bar.
// With one series bars are coloured by label (in Labels order, so a broker
// keeps its colour across charts); with several, by series, and a legend
// names them. Drawn with the standard library only.
type Chart struct {
	Title  string
	Series []string // names of the values of each bar; nil means one unnamed series
	Labels []string // colour order of bar labels (single series)
	Groups []ChartGroup
}

// ChartGroup is a titled set of bars.
type ChartGroup struct {
	Title string
	Bars  []ChartBar
}

// ChartBar is one label's values, one per series; a value ≤ 0 is drawn as
// "–" with no bar.
type ChartBar struct {
	Label  string
	Values []float64
}

// chart layout in image pixels.
const (
	chartWidth  = 1000
	chartMargin = 16
	chartScale  = 2 // font pixel size
	barHeight   = 18
	barGap      = 3
	groupGap    = 14
)

var (
	colInk   = color.RGBA{0x20, 0x20, 0x20, 0xff}
	colMuted = color.RGBA{0x60, 0x60, 0x60, 0xff}
	colBg    = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colRule  = color.RGBA{0xd8, 0xd8, 0xd8, 0xff}
	palette  = []color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
		{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
		{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
		{0x17, 0xbe, 0xcf, 0xff},
	}
)

// fmtNum writes v with three or so significant digits: 1.71M, 765.0k, 812,
// 12.3, 2.93, 0.245.
func fmtNum(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func (c *Chart) series() int { return max(1, len(c.Series)) }

// gap is the space between two bars' blocks: wider when each block has
// several series, so the blocks stand apart.
func (c *Chart) gap() int {
	if c.series() > 1 {
		return 3 * barGap
	}
	return barGap
}

// Image draws the chart.
func (c *Chart) Image() *image.RGBA {
	lh := lineHeight(chartScale)
	ns := c.series()
	labelW, valueW := 0, textWidth("0000.0k", chartScale)
	height := chartMargin + lh + 6
	if ns > 1 {
		height += lh + 4
	}
	for _, g := range c.Groups {
		height += lh + len(g.Bars)*(ns*barHeight+(ns-1)*1+c.gap()) + groupGap
		for _, b := range g.Bars {
			labelW = max(labelW, textWidth(b.Label, chartScale))
			for _, v := range b.Values {
				valueW = max(valueW, textWidth(fmtNum(v), chartScale))
			}
		}
	}
	height += chartMargin
	labelW += 10
	barX := chartMargin + labelW
	barMax := max(50, chartWidth-chartMargin-barX-valueW-8)

	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	fillRect(img, 0, 0, chartWidth, height, colBg)
	y := chartMargin
	drawText(img, chartMargin, y, c.Title, chartScale, colInk)
	y += lh + 6
	if ns > 1 {
		x := chartMargin
		for i, s := range c.Series {
			fillRect(img, x, y+2, 14, 14, palette[i%len(palette)])
			drawText(img, x+20, y, s, chartScale, colInk)
			x += 20 + textWidth(s, chartScale) + 24
		}
		y += lh + 4
	}
	for _, g := range c.Groups {
		fillRect(img, chartMargin, y, chartWidth-2*chartMargin, 1, colRule)
		drawText(img, chartMargin, y+3, g.Title, chartScale, colMuted)
		y += lh
		top := 0.0
		for _, b := range g.Bars {
			for _, v := range b.Values {
				top = max(top, v)
			}
		}
		for _, b := range g.Bars {
			block := ns*barHeight + (ns-1)*1
			drawText(img, barX-10-textWidth(b.Label, chartScale), y+(block-glyphH*chartScale)/2+2, b.Label, chartScale, colInk)
			for i := range ns {
				v := 0.0
				if i < len(b.Values) {
					v = b.Values[i]
				}
				col := c.colour(b.Label, i)
				w := 0
				if v > 0 && top > 0 {
					w = max(1, int(float64(barMax)*v/top+0.5))
					fillRect(img, barX, y, w, barHeight, col)
				}
				drawText(img, barX+w+6, y+2, fmtNum(v), chartScale, colInk)
				y += barHeight + 1
			}
			y += c.gap() - 1
		}
		y += groupGap
	}
	return img
}

// colour is the colour of series i of the bar labelled label.
func (c *Chart) colour(label string, i int) color.RGBA {
	if c.series() > 1 {
		return palette[i%len(palette)]
	}
	if j := slices.Index(c.Labels, label); j >= 0 {
		return palette[j%len(palette)]
	}
	return palette[7] // grey
}

// WritePNG encodes the chart as PNG.
func (c *Chart) WritePNG(w io.Writer) error { return png.Encode(w, c.Image()) }

// Charts builds the comparison's charts from CSV written by WriteCSV (the
// median run of each workload, client and label, as Report picks it):
// produce and consume throughput in records/s per workload and broker,
// end-to-end latency percentiles, and the ready, memory and rebalance
// figures. Charts with nothing to show are left out; the map is keyed by
// file name.
func Charts(in io.Reader) (map[string]*Chart, error) {
	t, err := readTable(in)
	if err != nil {
		return nil, err
	}
	produce := &Chart{Title: "Produce throughput (records/s; longer is faster)", Labels: t.labels}
	consume := &Chart{Title: "Consume throughput (records/s; longer is faster)", Labels: t.labels}
	latency := &Chart{Title: "End-to-end latency (ms; shorter is quicker)", Labels: t.labels,
		Series: []string{"p50", "p99", "p99.9"}}
	figs := &Chart{Title: "Start, memory and rebalance (shorter is better)", Labels: t.labels}
	for _, wk := range t.workloads {
		title := wk.workload
		if wk.client != ClientFranzGo && wk.client != "–" {
			title += " (" + wk.client + ")"
		}
		var g ChartGroup
		var target *Chart
		for _, lb := range t.labels {
			row, ok := t.row(wk, lb)
			if !ok {
				continue
			}
			bar := ChartBar{Label: lb}
			for _, f := range figures(row.mode(), row["unit"]) {
				v, _ := row.num(f.col)
				bar.Values = append(bar.Values, v)
			}
			g.Bars = append(g.Bars, bar)
			switch m := row.mode(); {
			case m == ModeProduce:
				target = produce
			case m == ModeConsume:
				target = consume
			case m == ModeE2E:
				target = latency
			default:
				target = figs
				g.Title = fmt.Sprintf("%s (%s)", title, row["unit"])
			}
		}
		if target == nil {
			continue
		}
		if g.Title == "" {
			g.Title = title
		}
		target.Groups = append(target.Groups, g)
	}
	out := map[string]*Chart{}
	for name, c := range map[string]*Chart{
		"bench-produce.png": produce, "bench-consume.png": consume,
		"bench-latency.png": latency, "bench-start-memory-rebalance.png": figs,
	} {
		if len(c.Groups) > 0 {
			out[name] = c
		}
	}
	return out, nil
}

// WriteCharts writes Charts(in) as PNG files into dir and returns their
// paths, sorted.
func WriteCharts(in io.Reader, dir string) ([]string, error) {
	charts, err := Charts(in)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for name, c := range charts {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return paths, err
		}
		err = c.WritePNG(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("bench: %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths, nil
}
