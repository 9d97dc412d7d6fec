package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Aims of issue 4 for the hub.
const (
	aimP99            = 100 * time.Millisecond
	aimPerIdleWatcher = 32 << 10 // bytes of server RSS per idle watcher
)

// writeReport writes the results as Markdown: the table, then notes per
// run, then how the hub runs fare against the aims.
func writeReport(w io.Writer, cfg config, results []*result) {
	fmt.Fprintf(w, "%d CPUs (GOMAXPROCS %d), shared by the server, the embedded NATS server in it, and the load generator; %s/%s, %s.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintln(w, "| scenario | watchers | puts/s | connect | consumers | p50 | p99 | max | delivered / expected | server RSS per idle watcher | server CPU | load generator CPU | other processes' CPU |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %d / %d | %s | %.0f%% | %.0f%% | %.0f%% |\n",
			r.label(), r.connect.opened, fmtRate(r), fmtDur(r.connect.took), fmtConsumers(r),
			fmtDur(r.latency.quantile(0.5)), fmtDur(r.latency.quantile(0.99)), fmtDur(time.Duration(r.latency.max.Load())),
			r.delivered, r.expected, fmtBytes(r.perIdleWatcher()),
			r.cpuPercent(r.serverCPU), r.cpuPercent(r.loadCPU), r.cpuPercent(r.otherCPU))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Puts: HTTP PUT to the API, %d concurrent, keys k.0 to k.<watchers-1> in turn; each value is its time of sending. "+
		"Latency: from that time to the frame's (or the NATS message's) arrival in the load generator. "+
		"CPU: user plus system time over the writing and the wait for the last events, as a share of one core; "+
		"other processes' CPU is what the rest of the machine used meanwhile (from /proc/stat), which the server and the load generator could not.\n\n", cfg.writers)

	for _, r := range results {
		fmt.Fprintf(w, "%s:\n", r.label())
		for _, n := range r.notes() {
			fmt.Fprintf(w, "- %s\n", n)
		}
		fmt.Fprintln(w)
	}

	var aims []string
	for _, r := range results {
		if !r.baseline {
			aims = append(aims, r.aims(results)...)
		}
	}
	if len(aims) > 0 {
		fmt.Fprintln(w, "Aims for the hub:")
		for _, a := range aims {
			fmt.Fprintf(w, "- %s\n", a)
		}
	}
}

// label names the run in the report.
func (r *result) label() string {
	if r.baseline && r.perConn > 1 {
		return fmt.Sprintf("%s (NATS watch per client, %d to a connection)", r.name, r.perConn)
	}
	if r.baseline {
		return r.name + " (NATS watch per client)"
	}
	return r.name + " (hub, WebSocket)"
}

// notes are the details of a run behind its table row.
func (r *result) notes() []string {
	var n []string
	c := r.connect
	n = append(n, fmt.Sprintf("opened %d of %d watchers in %s, %s per handshake at p50, %s at p99",
		c.opened, r.watchers, fmtDur(c.took), fmtDur(c.each.quantile(0.5)), fmtDur(c.each.quantile(0.99))))
	n = append(n, fmt.Sprintf("%d puts in %s (%.0f/s, asked %g/s), %d failed; put answered in %s at p50, %s at p99",
		r.putsOK, fmtDur(r.writeTook), float64(r.putsOK)/r.writeTook.Seconds(), r.rate, r.putsFailed,
		fmtDur(r.putLatency.quantile(0.5)), fmtDur(r.putLatency.quantile(0.99))))
	if r.putErr != nil {
		n = append(n, fmt.Sprintf("first failed put: %v", r.putErr))
	}
	if r.drained {
		n = append(n, fmt.Sprintf("every expected event arrived %s after the last put was answered", fmtDur(r.drainTook)))
	} else {
		n = append(n, fmt.Sprintf("the expected events had not all arrived %s after the last put was answered: missing events are counted as lost, and are not in the latencies", fmtDur(r.drainTook)))
	}
	n = append(n, fmt.Sprintf("missing %d, extra %d, out of order or repeated %d, for a key outside the filter %d, unreadable %d",
		r.missing, r.extra, r.disorder, r.foreign, r.bad))
	if r.ended > 0 {
		n = append(n, fmt.Sprintf("%d watchers ended before the run did, for example: %s", r.ended, r.endedExample))
	}
	if r.asyncErr != nil {
		n = append(n, r.asyncErr.Error())
	}
	n = append(n, fmt.Sprintf("consumers on the bucket's stream: %d with the watchers idle, %s during the run", r.consumersIdle, fmtConsumers(r)))
	if r.maxConsumersRaised > 0 {
		n = append(n, fmt.Sprintf("the stream's max_consumers was raised to %d for this run: nats-server's default limit per stream (1,000) would refuse the rest", r.maxConsumersRaised))
	}
	if o := float64(r.connect.opened); o > 0 {
		g := r.goWatching
		i := r.goIdle
		n = append(n, fmt.Sprintf("server RSS %s idle, %s with the watchers open (%s each); per watcher, from its /metrics: %.1f goroutines, %s of heap in use, %s of goroutine stacks",
			fmtBytes(float64(r.rssIdle)), fmtBytes(float64(r.rssWatching)), fmtBytes(r.perIdleWatcher()),
			(g.goroutines-i.goroutines)/o, fmtBytes((g.heapInuse-i.heapInuse)/o), fmtBytes((g.stackInuse-i.stackInuse)/o)))
		a := r.goAfterRun
		n = append(n, fmt.Sprintf("after the run, the watchers still open: server RSS %s (%s per watcher over the idle server); per watcher %s of heap in use, %s of goroutine stacks",
			fmtBytes(float64(r.rssAfterRun)), fmtBytes(float64(r.rssAfterRun-r.rssIdle)/o),
			fmtBytes((a.heapInuse-i.heapInuse)/o), fmtBytes((a.stackInuse-i.stackInuse)/o)))
	}
	n = append(n, fmt.Sprintf("CPU over %s: server %s (%.0f%% of a core), load generator %s (%.0f%%), other processes %s (%.0f%%)",
		fmtDur(r.window), fmtDur(r.serverCPU), r.cpuPercent(r.serverCPU), fmtDur(r.loadCPU), r.cpuPercent(r.loadCPU),
		fmtDur(r.otherCPU), r.cpuPercent(r.otherCPU)))
	for _, p := range r.serverProblems {
		n = append(n, "server logged: "+p)
	}
	if r.serverDropped > 0 {
		n = append(n, fmt.Sprintf("server logged %d more warnings or errors", r.serverDropped))
	}
	for _, e := range r.errs {
		n = append(n, "error: "+strings.ReplaceAll(e.Error(), "\n", " "))
	}
	return n
}

// allDelivered reports whether every watcher got exactly the events its
// filter selects.
func (r *result) allDelivered() bool {
	return r.delivered == r.expected && r.missing == 0 && r.extra == 0 && r.disorder == 0 && r.foreign == 0 && r.bad == 0
}

// aims says how a hub run fares against each aim.
func (r *result) aims(all []*result) []string {
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	p99 := r.latency.quantile(0.99)
	out := []string{
		fmt.Sprintf("%s: p99 %s under %s: %s", r.name, fmtDur(p99), fmtDur(aimP99), mark(p99 < aimP99 && r.latency.total.Load() > 0)),
		fmt.Sprintf("%s: all events delivered (%d / %d): %s", r.name, r.delivered, r.expected, mark(r.allDelivered() && r.drained)),
		fmt.Sprintf("%s: 1 consumer (%d idle, %s during the run): %s", r.name, r.consumersIdle, fmtConsumers(r),
			mark(r.consumersIdle == 1 && r.consumersMin == 1 && r.consumersMax == 1)),
		fmt.Sprintf("%s: server RSS per idle watcher %s under %s: %s", r.name, fmtBytes(r.perIdleWatcher()), fmtBytes(aimPerIdleWatcher),
			mark(r.perIdleWatcher() < aimPerIdleWatcher)),
	}
	for _, b := range all {
		if !b.baseline || b.broadcast != r.broadcast {
			continue
		}
		bp99 := b.latency.quantile(0.99)
		hubFrac, baseFrac := fraction(r.delivered, r.expected), fraction(b.delivered, b.expected)
		beats := p99 < bp99 && hubFrac >= baseFrac && r.serverCPU <= b.serverCPU
		out = append(out, fmt.Sprintf("%s: beats %s: p99 %s against %s, delivered %.2f%% against %.2f%%, server CPU %.0f%% against %.0f%%, RSS per idle watcher %s against %s: %s",
			r.name, b.name, fmtDur(p99), fmtDur(bp99), 100*hubFrac, 100*baseFrac,
			r.cpuPercent(r.serverCPU), b.cpuPercent(b.serverCPU), fmtBytes(r.perIdleWatcher()), fmtBytes(b.perIdleWatcher()), mark(beats)))
	}
	return out
}

func fraction(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func fmtRate(r *result) string {
	if r.writeTook <= 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f", float64(r.putsOK)/r.writeTook.Seconds())
}

func fmtConsumers(r *result) string {
	if r.consumersMin < 0 {
		return "?"
	}
	if r.consumersMin == r.consumersMax {
		return fmt.Sprint(r.consumersMax)
	}
	return fmt.Sprintf("%d-%d", r.consumersMin, r.consumersMax)
}

// fmtDur formats a duration with three significant digits in a unit that
// suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

// fmtBytes formats a byte count in KiB or MiB.
func fmtBytes(b float64) string {
	switch {
	case b >= 10<<20 || b <= -10<<20:
		return fmt.Sprintf("%.0f MiB", b/(1<<20))
	case b >= 1<<20 || b <= -1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
}
