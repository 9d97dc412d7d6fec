package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// targetRatio is the throughput the API should hold, as a fraction of the bare
// handler's.
const targetRatio = 0.85

// writeReport writes the settings and a Markdown table of results: per
// mode, op and contender the median requests/s of the rounds and their
// range, p50 and p99 latency over every request of the rounds, the process
// CPU time per request, the errors, for the API its throughput relative to
// the bare handler's, measured and as the CPU time predicts, and the CPU
// that other processes took meanwhile.
func writeReport(w io.Writer, cfg Config, results []*result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 on loopback, %d connections, %d keys of %d bytes, random key per request, "+
		"%d rounds of %v per contender and op (contenders alternating), %v warm-up.\n",
		cfg.Conns, cfg.Keys, cfg.ValueSize, cfg.Rounds, cfg.Duration, cfg.Warmup)
	fmt.Fprintf(&b, "%d CPUs (GOMAXPROCS %d) shared by the load generator, both HTTP servers and NATS; %s %s/%s.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	b.WriteString("| durability | op | contender | req/s (median) | rounds min–max | p50 | p99 | CPU/req | errors | API/bare req/s | API/bare by CPU | other processes' CPU |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	bare := map[string]*result{}
	for _, r := range results {
		if r.contender == contenderBare {
			bare[r.mode.String()+" "+r.op] = r
		}
	}
	for _, r := range results {
		ratio, byCPU := "", ""
		if base := bare[r.mode.String()+" "+r.op]; r.contender == contenderAPI && base != nil {
			ratio = verdict(pairedRatio(r.rates, base.rates))
			apiCPU, ok1 := r.cpuPerRequest()
			bareCPU, ok2 := base.cpuPerRequest()
			if ok1 && ok2 {
				byCPU = verdict(float64(bareCPU) / float64(apiCPU))
			}
		}
		lo, hi := 0.0, 0.0
		if len(r.rates) > 0 {
			lo, hi = slices.Min(r.rates), slices.Max(r.rates)
		}
		cpu := "–"
		if d, ok := r.cpuPerRequest(); ok {
			cpu = fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
		}
		others := "–"
		if x, ok := r.othersShare(); ok {
			others = fmt.Sprintf("%.0f%%", 100*x)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s–%s | %s | %s | %s | %d | %s | %s | %s |\n",
			r.mode, r.op, r.contender, thousands(median(r.rates)), thousands(lo), thousands(hi),
			ms(r.hist.Quantile(0.50)), ms(r.hist.Quantile(0.99)), cpu, r.errors, ratio, byCPU, others)
	}
	fmt.Fprintf(&b, "\nAPI/bare req/s is the median of the per-round ratios of requests/s, each from the two "+
		"contenders measured back to back in one round. CPU/req is the CPU time of the whole process "+
		"(load generator, HTTP server, NATS) per request in the rounds; API/bare by CPU is bare's CPU/req "+
		"over the API's, the throughput ratio of a machine that only this work keeps busy. "+
		"Other processes' CPU is what the rest of the machine used during the rounds, as a share of all its CPUs. "+
		"Target: %.2fx or better.\n", targetRatio)
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict formats a ratio rounded down to two decimals, so that it never
// shows the target when it misses it, and whether it meets the target.
func verdict(x float64) string {
	v := "met"
	if x < targetRatio {
		v = "missed"
	}
	return fmt.Sprintf("%.2fx (%s)", math.Floor(x*100+1e-9)/100, v)
}

// pairedRatio returns the median of xs[i]/ys[i] over the rounds both
// have, skipping rounds where ys[i] is 0, and 0 when none is left.
func pairedRatio(xs, ys []float64) float64 {
	var rs []float64
	for i := range min(len(xs), len(ys)) {
		if ys[i] > 0 {
			rs = append(rs, xs[i]/ys[i])
		}
	}
	return median(rs)
}

// median returns the median of xs, 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// thousands formats x rounded to an integer with comma separators.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ms formats d in milliseconds with three significant digits or so.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 100:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.0f ms", f)
}
