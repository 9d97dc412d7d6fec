// Package loadstat holds what ironkv's load generators share: a latency
// histogram and the CPU times of processes and of the machine.
package loadstat

import (
	"math/bits"
	"time"
)

// A Histogram counts latencies in log-linear buckets, as HDR histograms do:
// exact below 128 ns, then 64 buckets per power of two, so a reported
// quantile is within 1% of the true sample. It is not safe for concurrent
// use; each load goroutine has its own and they are merged afterwards.
// The zero value is empty and ready.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
}

const (
	histSubBits = 6                // 64 buckets per power of two
	histExact   = 2 << histSubBits // values below it have a bucket each
	histBuckets = histExact + (64-histSubBits-1)*(1<<histSubBits)
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [64, 128)
	return histExact + (shift-1)<<histSubBits + int(v>>shift) - 1<<histSubBits
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < histExact {
		return uint64(i), uint64(i)
	}
	i -= histExact
	shift := i>>histSubBits + 1
	top := uint64(i&(1<<histSubBits-1) + 1<<histSubBits)
	return top << shift, (top+1)<<shift - 1
}

// Record counts one latency; a negative one counts as 0.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
}

// Count returns the number of latencies recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Merge adds the counts of o.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// Quantile returns the latency below which a fraction q of the samples
// lie (the middle of the bucket holding the sample of rank ceil(q*n)),
// and 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999999)
	rank = max(1, min(rank, h.total))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return 0 // not reached: the counts add up to total
}
