package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A chartLine is one system's line in a panel: a value per concurrency
// (NaN where it was not measured).
type chartLine struct {
	name   string
	color  string
	dashed bool // not durable
	values []float64
}

// A chartPanel is one operation's plot.
type chartPanel struct {
	title string
	lines []chartLine
}

// Layout of the chart, in SVG user units.
const (
	panelW    = 440 // plot area
	panelH    = 300
	marginL   = 70 // room for the y tick labels and title
	marginT   = 60 // room for the chart's and the panel's titles
	panelGap  = 90
	marginR   = 20
	axisRoom  = 50 // below a plot: x tick labels and title
	legendRow = 22
	legendCol = 310
	legendCs  = 3 // legend entries per row
)

// systemColor is a system's line colour: blues for ironkv, greys for raw
// NATS, orange for etcd, reds for Redis.
func systemColor(id string) string {
	switch id {
	case "gc":
		return "#1f5fbf"
	case "always":
		return "#17a2b8"
	case "periodic":
		return "#7fa7e0"
	case "http":
		return "#7b3fb5"
	case "nats-always":
		return "#555555"
	case "nats-periodic":
		return "#aaaaaa"
	case "etcd":
		return "#e07b00"
	case "redis-always":
		return "#c62828"
	case "redis-none":
		return "#f08080"
	}
	return "#000000"
}

// svg draws the put and cas throughput (get when neither was measured)
// against the number of concurrent clients, a panel per operation and a
// line per system.
func (r *report) svg() []byte {
	var ops []opKind
	for _, op := range []opKind{opPut, opCAS} {
		if slices.Contains(r.m.ops, op) {
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		ops = r.m.ops
	}
	var panels []chartPanel
	for _, op := range ops {
		p := chartPanel{title: op.String() + " ops/s"}
		switch op {
		case opPut:
			p.title = "put: unconditional writes, ops/s"
		case opCAS:
			p.title = "cas: read + conditional write, ops/s"
		case opGet:
			p.title = "get: reads, ops/s"
		}
		for _, sp := range r.m.systems {
			l := chartLine{name: sp.name, color: systemColor(sp.id), dashed: !sp.durable}
			for _, n := range r.m.concs {
				v := math.NaN()
				if s, ok := r.sum[cellKey{sp.id, op, n}]; ok && s.rounds > 0 {
					v = s.median
				}
				l.values = append(l.values, v)
			}
			p.lines = append(p.lines, l)
		}
		panels = append(panels, p)
	}
	title := fmt.Sprintf("Throughput by concurrent clients, median of %s (higher is better; log scale)", plural(r.m.rounds, "round"))
	return renderSVG(title, r.m.concs, panels)
}

// renderSVG draws panels side by side over the categorical x axis concs,
// each with its own logarithmic y axis, and a legend of the first panel's
// lines below them.
func renderSVG(title string, concs []int, panels []chartPanel) []byte {
	np := max(1, len(panels))
	width := marginL + np*panelW + (np-1)*panelGap + marginR
	var legend []chartLine
	if len(panels) > 0 {
		legend = panels[0].lines
	}
	legendRows := (len(legend) + legendCs - 1) / legendCs
	height := marginT + panelH + axisRoom + 20 + legendRows*legendRow + 10

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, esc(title))

	for i, p := range panels {
		x0 := marginL + i*(panelW+panelGap)
		drawPanel(&b, x0, marginT, concs, p)
	}

	ly := marginT + panelH + axisRoom + 20
	for i, l := range legend {
		x := marginL + (i%legendCs)*legendCol
		y := ly + (i/legendCs)*legendRow
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`+"\n",
			x, y-4, x+28, y-4, l.color, dash(l.dashed))
		fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3.5" fill="%s"/>`+"\n", x+14, y-4, l.color)
		name := l.name
		if l.dashed {
			name += " (not durable)"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+36, y, esc(name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// drawPanel draws one plot whose area's top left corner is (x0, y0).
func drawPanel(b *bytes.Buffer, x0, y0 int, concs []int, p chartPanel) {
	lo, hi := logRange(p.lines)
	ly := func(v float64) float64 {
		return float64(y0+panelH) - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*panelH
	}
	pad := 40.0
	lx := func(i int) float64 {
		if len(concs) < 2 {
			return float64(x0) + panelW/2
		}
		return float64(x0) + pad + float64(i)*(panelW-2*pad)/float64(len(concs)-1)
	}

	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", x0, y0-12, esc(p.title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888888"/>`+"\n", x0, y0, panelW, panelH)
	for _, t := range logTicks(lo, hi) {
		y := ly(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x0, y, x0+panelW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, esc(tickLabel(t)))
	}
	for i, n := range concs {
		x := lx(i)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888888"/>`+"\n", x, y0+panelH, x, y0+panelH+5)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x, y0+panelH+19, n)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">concurrent clients</text>`+"\n", x0+panelW/2, y0+panelH+38)
	cy := y0 + panelH/2
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)">ops/s (log scale)</text>`+"\n",
		x0-52, cy, x0-52, cy)

	for _, l := range p.lines {
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`+"\n",
					strings.Join(pts, " "), l.color, dash(l.dashed))
			}
			pts = pts[:0]
		}
		for i, v := range l.values {
			if math.IsNaN(v) || v <= 0 {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", lx(i), ly(v)))
		}
		flush()
		for i, v := range l.values {
			if !math.IsNaN(v) && v > 0 {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %d: %s ops/s</title></circle>`+"\n",
					lx(i), ly(v), l.color, esc(l.name), concs[i], formatCount(v))
			}
		}
	}
}

// logRange returns the 1-2-5 steps just below the smallest positive value
// and just above the largest; 1 and 10 when there is none.
func logRange(lines []chartLine) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, l := range lines {
		for _, v := range l.values {
			if !math.IsNaN(v) && v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if hi == 0 {
		return 1, 10
	}
	lo, hi = stepBelow(lo), stepAbove(hi)
	if hi <= lo {
		hi = stepAbove(lo * 1.01)
	}
	return lo, hi
}

// stepBelow returns the largest 1, 2 or 5 × 10^k not above v; stepAbove the
// smallest not below it.
func stepBelow(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*p <= v*(1+1e-9) {
			return m * p
		}
	}
	return p
}

func stepAbove(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// logTicks returns the 1-2-5 values from lo to hi.
func logTicks(lo, hi float64) []float64 {
	var ts []float64
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi*(1+1e-9); p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if t := m * p; t >= lo*(1-1e-9) && t <= hi*(1+1e-9) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// tickLabel renders 500, 2k, 50k, 1M.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func dash(dashed bool) string {
	if dashed {
		return ` stroke-dasharray="7 4"`
	}
	return ""
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
