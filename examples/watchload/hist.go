package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// A histogram counts latencies in log-linear buckets, as HDR histograms do:
// exact below 256 ns, then 128 buckets per power of two, so a reported
// quantile is within 1% of the true sample. Many goroutines record into it
// at once (its counters are atomic); read it after they have stopped.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 7                // 128 buckets per power of two
	histSub     = 1 << histSubBits // buckets per power of two
	histExact   = 2 * histSub      // values below it have a bucket each
	// histBuckets covers values up to 2^41 ns (about 36 minutes); longer
	// ones land in the last bucket, and max keeps them exact.
	histBuckets = histExact + (41-histSubBits-1)*histSub
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [128, 256)
	i := histExact + (shift-1)*histSub + int(v>>shift) - histSub
	return min(i, histBuckets-1)
}

// bucketHigh returns the largest value of bucket i.
func bucketHigh(i int) uint64 {
	if i < histExact {
		return uint64(i)
	}
	i -= histExact
	shift := i/histSub + 1
	top := uint64(i%histSub + histSub)
	return (top+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// quantile returns the latency below which a fraction q of the samples lie
// (the top of the bucket holding the sample of rank ceil(q*n), never above
// the maximum), and 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = max(1, min(rank, n))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// shardedHist spreads the recording of many goroutines over several
// histograms, so that they do not all fight over one set of cache lines.
type shardedHist struct {
	shards [histShards]histogram
}

const histShards = 16

func (s *shardedHist) record(shard int, d time.Duration) {
	s.shards[shard%histShards].record(d)
}

// count returns the number of samples recorded so far; it may be called
// while recording goes on.
func (s *shardedHist) count() uint64 {
	var n uint64
	for i := range s.shards {
		n += s.shards[i].total.Load()
	}
	return n
}

// merged returns one histogram of every shard's samples.
func (s *shardedHist) merged() *histogram {
	h := new(histogram)
	for i := range s.shards {
		h.merge(&s.shards[i])
	}
	return h
}
