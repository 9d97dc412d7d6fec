package loadstat

import (
	"math"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	// Every bucket holds what bucketOf puts in it; above the exact range
	// it is at most 1/64 of its values wide.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1<<40 + 12345, math.MaxUint64 >> 1} {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("bucketOf(%d) = %d, which holds [%d, %d]", v, i, lo, hi)
		}
		if lo >= histExact && float64(hi-lo+1)/float64(lo) > 1.0/64 {
			t.Errorf("bucket %d holds [%d, %d]: too wide", i, lo, hi)
		}
		if i < 0 || i >= histBuckets {
			t.Errorf("bucketOf(%d) = %d, out of range", v, i)
		}
	}

	// Quantiles of 1..10000 µs, recorded in two halves and merged.
	var a, b Histogram
	for i := 1; i <= 10000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.Record(time.Duration(i) * time.Microsecond)
	}
	a.Merge(&b)
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{1, 10000 * time.Microsecond},
	} {
		got := a.Quantile(tc.q)
		if math.Abs(float64(got-tc.want)) > 0.01*float64(tc.want) {
			t.Errorf("quantile(%v) = %v, want %v within 1%%", tc.q, got, tc.want)
		}
	}
	var empty Histogram
	if got := empty.Quantile(0.5); got != 0 {
		t.Errorf("quantile of an empty histogram = %v, want 0", got)
	}
}

func TestCPUTimes(t *testing.T) {
	ours, machine, ok := CPUTimes()
	if !ok {
		t.Skip("no /proc here")
	}
	// Work until the process has used a clock tick (10 ms) of CPU.
	x := uint64(1)
	for deadline := time.Now().Add(10 * time.Second); ours == 0 && time.Now().Before(deadline); {
		for range 1 << 20 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		ours, machine, _ = CPUTimes()
	}
	_ = x
	if ours <= 0 || machine < ours {
		t.Errorf("CPUTimes() = %v, %v: this process must have used some, and the machine at least as much", ours, machine)
	}
}
