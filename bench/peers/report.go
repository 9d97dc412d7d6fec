package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A summary is a cell's samples reduced across rounds.
type summary struct {
	rounds         int
	median, lo, hi float64       // ops/s: the median and the spread of the rounds
	p50, p99       time.Duration // medians of the rounds'
	perSync        float64       // median writes per group-commit sync; 0 where none
	errors         int64         // across all rounds
	firstErr       string
}

func summarize(ss []sample) summary {
	if len(ss) == 0 {
		return summary{}
	}
	var rates, p50s, p99s, per []float64
	s := summary{rounds: len(ss), lo: math.Inf(1), hi: math.Inf(-1)}
	for _, x := range ss {
		r := x.rate()
		rates = append(rates, r)
		s.lo, s.hi = min(s.lo, r), max(s.hi, r)
		p50s = append(p50s, float64(x.p50))
		p99s = append(p99s, float64(x.p99))
		per = append(per, x.perSync)
		s.errors += x.errors
		if s.firstErr == "" {
			s.firstErr = x.firstErr
		}
	}
	s.median = median(rates)
	s.p50 = time.Duration(median(p50s))
	s.p99 = time.Duration(median(p99s))
	s.perSync = median(per)
	return s
}

// median returns the middle of xs, the mean of the two middle values for
// an even count, and NaN for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// A report renders a measurement.
type report struct {
	cfg      config
	m        *measurement
	sum      map[cellKey]summary
	versions versions
	skipped  []string
	when     time.Time
	cpu      string // the CPU's model, "" if unknown
}

func newReport(cfg config, m *measurement, v versions, skipped []string, when time.Time) *report {
	r := &report{cfg: cfg, m: m, sum: map[cellKey]summary{}, versions: v, skipped: skipped, when: when, cpu: cpuModel()}
	for k, ss := range m.samples {
		r.sum[k] = summarize(ss)
	}
	return r
}

// opTitle describes an operation for a table's heading.
func opTitle(op opKind) string {
	switch op {
	case opPut:
		return "put: unconditional write of a random key"
	case opGet:
		return "get: read of a random key"
	case opCAS:
		return "cas: each client reads its own key, then writes it on condition that its revision is unchanged"
	}
	return op.String()
}

func clients(n int) string { return plural(n, "client") }

// plural returns "1 round", "3 rounds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// tables renders one Markdown table per operation: a row per system, and
// per concurrency the median ops/s with the rounds' min–max and the median
// p50 / p99 latency.
func (r *report) tables() string {
	var b strings.Builder
	for _, op := range r.m.ops {
		fmt.Fprintf(&b, "**%s**\n\n| system | durable |", opTitle(op))
		for _, n := range r.m.concs {
			fmt.Fprintf(&b, " %s: ops/s (min–max) | p50 / p99 |", clients(n))
		}
		b.WriteString("\n|---|---|")
		for range r.m.concs {
			b.WriteString("--:|--:|")
		}
		b.WriteString("\n")
		for _, sp := range r.m.systems {
			durable := "yes"
			if !sp.durable {
				durable = "no"
			}
			fmt.Fprintf(&b, "| %s | %s |", sp.name, durable)
			for _, n := range r.m.concs {
				s, ok := r.sum[cellKey{sp.id, op, n}]
				if !ok || s.rounds == 0 {
					b.WriteString(" – | – |")
					continue
				}
				fmt.Fprintf(&b, " %s (%s–%s) | %s / %s |", formatCount(s.median), formatCount(s.lo), formatCount(s.hi),
					formatDuration(s.p50), formatDuration(s.p99))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ratio returns the median, min and max across rounds of the per-round
// ratio of system a's put rate to system b's at conc clients; ok is false
// when either was not measured.
func (r *report) ratio(a, b string, conc int) (med, lo, hi float64, ok bool) {
	sa, sb := r.m.samples[cellKey{a, opPut, conc}], r.m.samples[cellKey{b, opPut, conc}]
	n := min(len(sa), len(sb))
	if n == 0 {
		return 0, 0, 0, false
	}
	var rs []float64
	for i := range n {
		if d := sb[i].rate(); d > 0 {
			rs = append(rs, sa[i].rate()/d)
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0, false
	}
	return median(rs), slices.Min(rs), slices.Max(rs), true
}

// ratios renders the put ratios that matter, at the highest concurrency
// measured and with one writer, as a Markdown table.
func (r *report) ratios() string {
	hi := maxOf(r.m.concs)
	type row struct {
		a, b string
		conc int
	}
	rows := []row{
		{"gc", "always", hi},
		{"gc", "etcd", hi},
		{"gc", "redis-always", hi},
		{"http", "etcd", hi},
		{"gc", "always", 1},
	}
	if hi == 1 {
		rows = rows[:len(rows)-1]
	}
	names := map[string]string{}
	for _, sp := range specs() {
		names[sp.id] = sp.name
	}
	var b strings.Builder
	b.WriteString("| durable puts, ratio of ops/s (median of the rounds' ratios) | writers | ratio | min–max |\n|---|--:|--:|--:|\n")
	some := false
	for _, x := range rows {
		med, lo, hi, ok := r.ratio(x.a, x.b, x.conc)
		if !ok {
			continue
		}
		some = true
		fmt.Fprintf(&b, "| %s ÷ %s | %d | **%s×** | %s–%s |\n", names[x.a], names[x.b], x.conc,
			formatRatio(med), formatRatio(lo), formatRatio(hi))
	}
	if !some {
		return ""
	}
	return b.String() + "\n"
}

// groupCommit renders the mean number of writes per group-commit sync.
func (r *report) groupCommit() string {
	var b strings.Builder
	for _, sp := range r.m.systems {
		for _, op := range []opKind{opPut, opCAS} {
			var parts []string
			for _, n := range r.m.concs {
				if s, ok := r.sum[cellKey{sp.id, op, n}]; ok && s.perSync > 0 {
					parts = append(parts, fmt.Sprintf("%.1f at %d", s.perSync, n))
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(&b, "- %s, %s: %s\n", sp.name, op, strings.Join(parts, ", "))
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "Writes per group-commit sync (median of the rounds), by concurrent clients:\n\n" + b.String() + "\n"
}

// errorsText lists the cells that had errors, or says there were none.
func (r *report) errorsText() string {
	var b strings.Builder
	for _, sp := range r.m.systems {
		for _, op := range r.m.ops {
			for _, n := range r.m.concs {
				if s := r.sum[cellKey{sp.id, op, n}]; s.errors > 0 {
					fmt.Fprintf(&b, "- %s %s ×%d: %d errors, the first: %s\n", sp.name, op, n, s.errors, s.firstErr)
				}
			}
		}
	}
	if b.Len() == 0 {
		return "Errors: none; every operation counted succeeded.\n"
	}
	return "Errors (not counted in ops/s):\n\n" + b.String()
}

// othersText says how much of the CPUs other work took during the
// measured cells.
func (r *report) othersText() string {
	var xs []float64
	busy := 0
	for _, ss := range r.m.samples {
		for _, s := range ss {
			if s.others >= 0 {
				xs = append(xs, s.others)
				if s.others > 0.25 {
					busy++
				}
			}
		}
	}
	if len(xs) == 0 {
		return ""
	}
	return fmt.Sprintf("Other processes on the machine took a median of %.0f %% of one CPU during the measured cells "+
		"(max %.0f %%; above 25 %% in %d of %d cells); the figures are not corrected for it.\n\n",
		100*median(xs), 100*slices.Max(xs), busy, len(xs))
}

func (r *report) skippedText() string {
	if len(r.skipped) == 0 {
		return ""
	}
	return "\nNot run:\n\n- " + strings.Join(r.skipped, "\n- ") + "\n"
}

// intro is the sentence that says when, where, with what and, if
// withCommand, how.
func (r *report) intro(withCommand bool) string {
	machine := fmt.Sprintf("%d CPUs, GOMAXPROCS %d, %s/%s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	if r.cpu != "" {
		machine = fmt.Sprintf("%d CPUs (%s, GOMAXPROCS %d, %s/%s)", runtime.NumCPU(), r.cpu, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	}
	var vs []string
	for _, v := range []string{r.versions.etcd, r.versions.redis, r.versions.nats, runtime.Version()} {
		if v != "" {
			vs = append(vs, v)
		}
	}
	how := ""
	if withCommand {
		how = ", with `" + r.cfg.command + "`"
	}
	return fmt.Sprintf("Measured on %s on a machine with %s%s: %s. "+
		"Each cell ran for %s after a %s warm-up, once in each of %s, the cells in an order rotated from round to round; "+
		"figures are medians across the rounds: ops/s with the rounds' min–max, and the p50 / p99 latency of successful operations. "+
		"Values are %d bytes; put and get use %s keys.\n",
		r.when.UTC().Format("2006-01-02"), machine, how, strings.Join(vs, ", "),
		r.cfg.duration, r.cfg.warmup, plural(r.cfg.rounds, "round"), valueSize, formatCount(numKeys))
}

// method is the short list of what each system does, for the Markdown
// file; README.md has the rest.
const method = `- **durable**: an acknowledged write survives a power loss. ironkv
  group-commit syncs the file system once for every write waiting at that
  moment; sync-always (ironkv, NATS KV) fsyncs every write; etcd fsyncs its
  WAL once per batch of proposals; Redis ` + "`appendfsync always`" + ` fsyncs its
  AOF once per turn of its event loop, covering every client's writes of
  that turn, before replying. periodic and no-persist are not durable.
- ironkv and NATS KV run embedded in the load generator's process and are
  reached over in-process connections (the HTTP row over loopback HTTP/1.1);
  etcd and Redis run as separate processes, reached over loopback TCP. One
  etcd client is shared (gRPC multiplexes the calls over one connection);
  go-redis and the HTTP client (a lean HTTP/1.1 client, internal/httpload)
  keep a connection per client.
- cas: ironkv ` + "`Get`" + ` then ` + "`Update`" + ` (which would read the key once more to refuse a
  tombstone's revision, but not for a revision its handle has just read as a
  value); NATS KV ` + "`Get`" + ` then ` + "`Update`" + `; etcd ` + "`Get`" + ` then a ` + "`Txn`" + ` on
  ` + "`ModRevision`" + `; Redis ` + "`HMGET`" + ` then a Lua script by ` + "`EVALSHA`" + ` that compares a
  version field; HTTP ` + "`GET`" + ` for the ETag then ` + "`PUT`" + ` with ` + "`If-Match`" + `.
- Everything, load generator included, shares the same CPUs and disk.
`

// terminal is the report printed at the end of a run.
func (r *report) terminal() string {
	var b strings.Builder
	b.WriteString("\n## ironkv against etcd and Redis\n\n")
	b.WriteString(r.intro(true))
	b.WriteString("Redis cas: HMGET, then a Lua script by EVALSHA comparing a version field.\n")
	b.WriteString("etcd: one clientv3.Client shared by all clients (gRPC multiplexes them over one connection).\n\n")
	b.WriteString(r.tables())
	b.WriteString(r.ratios())
	b.WriteString(r.groupCommit())
	b.WriteString(r.othersText())
	b.WriteString(r.errorsText())
	b.WriteString(r.skippedText())
	return b.String()
}

// markdown is the section written between the markers of the -out file;
// svgLink and readmeLink are relative to that file.
func (r *report) markdown(svgLink, readmeLink string) string {
	var b strings.Builder
	b.WriteString("One command measures ironkv's durability modes against etcd and Redis on\n")
	b.WriteString("the same machine; what it does and its caveats are in\n")
	fmt.Fprintf(&b, "[%s](%s):\n\n```sh\n%s\n```\n\n", readmeLink, readmeLink, r.cfg.command)
	b.WriteString(r.intro(false))
	b.WriteString("\n")
	b.WriteString(method)
	b.WriteString("\n")
	b.WriteString(r.tables())
	b.WriteString(r.ratios())
	b.WriteString(r.groupCommit())
	b.WriteString(r.othersText())
	b.WriteString(r.errorsText())
	b.WriteString(r.skippedText())
	if svgLink != "" {
		fmt.Fprintf(&b, "\n![Throughput by concurrent clients, median of the rounds](%s)\n", svgLink)
	}
	return b.String()
}

// The lines between which updateMarkdown writes.
const (
	beginMarker = "<!-- peers:begin -->"
	endMarker   = "<!-- peers:end -->"
)

// replaceSection returns doc with the text between the marker lines
// replaced by body. Without markers it appends a section "## Against etcd
// and Redis" holding them.
func replaceSection(doc, body string) (string, error) {
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	bi, ei := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	switch {
	case bi < 0 && ei < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		return doc + "\n## Against etcd and Redis\n\n" + beginMarker + "\n" + body + endMarker + "\n", nil
	case bi < 0 || ei < 0:
		return "", errors.New("only one of the markers " + beginMarker + " and " + endMarker + " is present")
	case ei < bi:
		return "", errors.New(endMarker + " comes before " + beginMarker)
	case strings.Count(doc, beginMarker) > 1 || strings.Count(doc, endMarker) > 1:
		return "", errors.New("the markers " + beginMarker + " and " + endMarker + " appear more than once")
	}
	return doc[:bi+len(beginMarker)] + "\n" + body + doc[ei:], nil
}

// updateMarkdown replaces the section between the markers of the file at
// path with body, creating the file if it does not exist.
func updateMarkdown(path, body string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := replaceSection(string(doc), body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFileAtomic(path, []byte(out))
}

// formatCount renders x rounded to an integer with thousands separated by
// commas.
func formatCount(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatDuration renders d with three significant digits: "850 ns",
// "45.6 µs", "1.23 ms", "2.50 s".
func formatDuration(d time.Duration) string {
	units := []struct {
		name string
		size time.Duration
	}{{"s", time.Second}, {"ms", time.Millisecond}, {"µs", time.Microsecond}}
	for _, u := range units {
		if d >= u.size {
			return sig3(float64(d)/float64(u.size)) + " " + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + " ns"
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func formatRatio(x float64) string {
	if x >= 10 {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
