package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat
// (sysconf(_SC_CLK_TCK)), 100 on every Linux platform Go supports.
const clockTicks = 100

// raiseFileLimit raises the soft limit on open files to the hard limit,
// since ten thousand WebSockets need ten thousand descriptors on each side.
// The server, started afterwards, inherits the raised limit. It returns the
// new soft limit.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read the open files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise the open files limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// procRSS returns the resident set size of process pid, from VmRSS in
// /proc/<pid>/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}

// procCPU returns the CPU time (user plus system) process pid has used,
// from utime and stime in /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// the fields after it start with field 3, the state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	u, err1 := strconv.ParseInt(f[utime], 10, 64)
	s, err2 := strconv.ParseInt(f[stime], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[utime], f[stime])
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// machineCPU returns the CPU time every CPU of the machine has spent busy
// (neither idle nor waiting for I/O), from the first line of /proc/stat.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait. guest time is already in user.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q: %w", v, err)
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// selfCPU returns the CPU time (user plus system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// goStats is what the server's Prometheus /metrics says of its Go runtime.
type goStats struct {
	goroutines float64
	heapInuse  float64 // bytes
	stackInuse float64 // bytes
}

// scrapeGoStats reads the Go runtime figures from the server's /metrics.
func scrapeGoStats(ctx context.Context, client *http.Client, httpAddr string) (goStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return goStats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return goStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goStats{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var st goStats
	want := map[string]*float64{
		"go_goroutines":                 &st.goroutines,
		"go_memstats_heap_inuse_bytes":  &st.heapInuse,
		"go_memstats_stack_inuse_bytes": &st.stackInuse,
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := want[name]; ok && p != nil {
			*p, _ = strconv.ParseFloat(strings.TrimSpace(value), 64)
		}
	}
	return st, sc.Err()
}
