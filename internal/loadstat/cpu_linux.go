package loadstat

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of the CPU times in /proc: USER_HZ, 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// CPUTimes returns the CPU time, user and system, that the processes pids
// (this process when none is given) have used so far, and that the whole
// machine has (every process and the kernel's interrupt work), from /proc;
// ok is false when /proc cannot tell.
func CPUTimes(pids ...int) (ours, machine time.Duration, ok bool) {
	if len(pids) == 0 {
		pids = []int{os.Getpid()}
	}
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, 0, false
		}
		// After the command name, in parentheses and possibly with
		// spaces, state is the first field, utime and stime the 12th and
		// 13th.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0, 0, false
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 13 {
			return 0, 0, false
		}
		t, ok := sumTicks(f[11:13])
		if !ok {
			return 0, 0, false
		}
		ours += t
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...: busy is
	// everything but idle and iowait (guest time is counted in user).
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, 0, false
	}
	busy, ok1 := sumTicks(f[1:4])
	rest, ok2 := sumTicks(f[6:9])
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return ours, busy + rest, true
}

// sumTicks adds up fields that count clock ticks.
func sumTicks(fields [][]byte) (time.Duration, bool) {
	var n uint64
	for _, f := range fields {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, false
		}
		n += v
	}
	return time.Duration(n) * clockTick, true
}
