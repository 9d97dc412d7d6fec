package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), c.in...)
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !equal(in, c.in) {
			t.Errorf("median modified its input: %v, was %v", c.in, in)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSummarize(t *testing.T) {
	s := summarize([]sample{
		{ops: 2000, elapsed: time.Second, p50: 3 * time.Millisecond, p99: 9 * time.Millisecond, perSync: 10},
		{ops: 1000, elapsed: time.Second, p50: 1 * time.Millisecond, p99: 7 * time.Millisecond, perSync: 30, errors: 2, firstErr: "boom"},
		{ops: 6000, elapsed: 2 * time.Second, p50: 2 * time.Millisecond, p99: 8 * time.Millisecond, perSync: 20},
	})
	if s.median != 2000 || s.lo != 1000 || s.hi != 3000 {
		t.Errorf("ops/s median %v (%v–%v), want 2000 (1000–3000)", s.median, s.lo, s.hi)
	}
	if s.p50 != 2*time.Millisecond || s.p99 != 8*time.Millisecond {
		t.Errorf("p50 %v p99 %v, want 2ms 8ms", s.p50, s.p99)
	}
	if s.perSync != 20 || s.errors != 2 || s.firstErr != "boom" || s.rounds != 3 {
		t.Errorf("got %+v", s)
	}
}

// testReport has two systems, put and cas at 1 and 64 clients, 3 rounds.
func testReport() *report {
	m := &measurement{
		systems: []spec{specs()[0], specs()[1], specs()[2]},
		ops:     []opKind{opPut, opCAS},
		concs:   []int{1, 64},
		rounds:  3,
		samples: map[cellKey][]sample{},
	}
	rate := map[string]float64{"gc": 4000, "always": 1000, "periodic": 40000}
	for _, sp := range m.systems {
		for _, op := range m.ops {
			for _, n := range m.concs {
				for r := range 3 {
					m.samples[cellKey{sp.id, op, n}] = append(m.samples[cellKey{sp.id, op, n}], sample{
						ops:     int64(rate[sp.id] * float64(n) * float64(r+1)),
						elapsed: time.Second,
						p50:     time.Duration(n) * 100 * time.Microsecond,
						p99:     time.Duration(n) * time.Millisecond,
					})
				}
			}
		}
	}
	cfg := config{duration: 2 * time.Second, warmup: 300 * time.Millisecond, rounds: 3, concs: m.concs,
		ops: m.ops, systems: m.systems, command: "cd bench/peers && go run . -out ../../BENCHMARKS.md"}
	return newReport(cfg, m, versions{etcd: "etcd Version: 3.4.23", redis: "Redis server v7.0.15", nats: "nats-server v2.15.2"},
		[]string{"etcd: skipped: etcd is not installed"}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func TestTables(t *testing.T) {
	r := testReport()
	got := r.tables()
	for _, want := range []string{
		"| system | durable | 1 client: ops/s (min–max) | p50 / p99 | 64 clients: ops/s (min–max) | p50 / p99 |",
		"|---|---|--:|--:|--:|--:|",
		"| ironkv group-commit | yes | 8,000 (4,000–12,000) | 100 µs / 1.00 ms | 512,000 (256,000–768,000) | 6.40 ms / 64.0 ms |",
		"| ironkv periodic | no |",
		"**put: unconditional write",
		"**cas: each client",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("tables lack %q:\n%s", want, got)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, "|") != 7 {
			t.Errorf("row with %d cells: %s", strings.Count(line, "|")-1, line)
		}
	}
	ratios := r.ratios()
	for _, want := range []string{
		"| ironkv group-commit ÷ ironkv sync-always | 64 | **4.00×** | 4.00–4.00 |",
		"| ironkv group-commit ÷ ironkv sync-always | 1 | **4.00×** |",
	} {
		if !strings.Contains(ratios, want) {
			t.Errorf("ratios lack %q:\n%s", want, ratios)
		}
	}
	if strings.Contains(ratios, "etcd") {
		t.Errorf("ratio against a system not measured:\n%s", ratios)
	}
	md := r.markdown("bench/peers/throughput.svg", "bench/peers/README.md")
	for _, want := range []string{
		"Measured on 2026-01-02",
		"```sh\ncd bench/peers && go run . -out ../../BENCHMARKS.md\n```",
		"etcd Version: 3.4.23, Redis server v7.0.15, nats-server v2.15.2",
		"![Throughput by concurrent clients, median of the rounds](bench/peers/throughput.svg)",
		"Errors: none",
		"etcd: skipped",
		"Other processes on the machine took a median of 0 %",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestSVGWellFormed(t *testing.T) {
	r := testReport()
	// A hole in one line must not break the chart.
	r.sum[cellKey{"always", opPut, 64}] = summary{}
	out := r.svg()
	d := xml.NewDecoder(bytes.NewReader(out))
	var root string
	counts := map[string]int{}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, out)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			counts[se.Name.Local]++
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	// Two panels: gc and periodic have two points each per panel, always
	// one in put and two in cas.
	if counts["polyline"] != 5 {
		t.Errorf("%d polylines, want 5", counts["polyline"])
	}
	for _, want := range []string{"ironkv periodic (not durable)", "concurrent clients", "put: unconditional writes", "cas: read + conditional write", ">64<", "stroke-dasharray"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestLogTicks(t *testing.T) {
	lo, hi := logRange([]chartLine{{values: []float64{1234, math.NaN(), 56789}}})
	if lo != 1000 || hi != 100000 {
		t.Errorf("logRange = %v, %v; want 1000, 100000", lo, hi)
	}
	got := logTicks(lo, hi)
	want := []float64{1000, 2000, 5000, 10000, 20000, 50000, 100000}
	if !equal(got, want) {
		t.Errorf("logTicks = %v, want %v", got, want)
	}
	if l := tickLabel(20000); l != "20k" {
		t.Errorf("tickLabel(20000) = %q", l)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nbefore\n\n<!-- peers:begin -->\nold\ntext\n<!-- peers:end -->\n\nafter\n"
	got, err := replaceSection(doc, "new")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nbefore\n\n<!-- peers:begin -->\nnew\n<!-- peers:end -->\n\nafter\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	again, err := replaceSection(got, "new")
	if err != nil || again != got {
		t.Errorf("replacing again changed the document: %q, %v", again, err)
	}

	got, err = replaceSection("# Benchmarks\n\ntext", "body\n")
	if err != nil {
		t.Fatal(err)
	}
	want = "# Benchmarks\n\ntext\n\n## Against etcd and Redis\n\n<!-- peers:begin -->\nbody\n<!-- peers:end -->\n"
	if got != want {
		t.Errorf("append: got\n%q\nwant\n%q", got, want)
	}

	for _, bad := range []string{
		"x\n<!-- peers:begin -->\n",
		"x\n<!-- peers:end -->\n<!-- peers:begin -->\n",
		"<!-- peers:begin -->\n<!-- peers:end -->\n<!-- peers:begin -->\n<!-- peers:end -->\n",
	} {
		if _, err := replaceSection(bad, "b"); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestUpdateMarkdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	if err := os.WriteFile(path, []byte("# B\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := updateMarkdown(path, "table\n"); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	if want := "# B\n\n## Against etcd and Redis\n\n<!-- peers:begin -->\ntable\n<!-- peers:end -->\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-systems", "etcd,GC,ironkv sync-always", "-ops", "cas,put", "-conc", "64,1", "-out", "../../BENCHMARKS.md"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sp := range cfg.systems {
		ids = append(ids, sp.id)
	}
	if strings.Join(ids, ",") != "gc,always,etcd" {
		t.Errorf("systems %v", ids)
	}
	if len(cfg.ops) != 2 || cfg.ops[0] != opPut || cfg.ops[1] != opCAS {
		t.Errorf("ops %v", cfg.ops)
	}
	if cfg.svg != "throughput.svg" {
		t.Errorf("svg %q", cfg.svg)
	}
	if want := "cd bench/peers && go run . -systems 'etcd,GC,ironkv sync-always' -ops cas,put -conc 64,1 -out ../../BENCHMARKS.md"; cfg.command != want {
		t.Errorf("command %q, want %q", cfg.command, want)
	}
	for _, bad := range [][]string{{"-systems", "mongo"}, {"-ops", "scan"}, {"-conc", "0"}, {"-rounds", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("no error for %v", bad)
		}
	}
	if link, _ := relLink("../../BENCHMARKS.md", "throughput.svg"); link != "bench/peers/throughput.svg" {
		t.Errorf("relLink = %q", link)
	}
}

func TestFormat(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 999.4: "999", 1234: "1,234", 1234567: "1,234,567"} {
		if got := formatCount(x); got != want {
			t.Errorf("formatCount(%v) = %q, want %q", x, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		850: "850 ns", 45600: "45.6 µs", 1234567: "1.23 ms", 123 * time.Millisecond: "123 ms", 2500 * time.Millisecond: "2.50 s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
