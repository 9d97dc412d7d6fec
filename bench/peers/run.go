package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ironkv/ironkv/internal/loadstat"
)

const (
	numKeys   = 10_000 // keys of put and get: k.0 … k.9999
	valueSize = 128    // bytes per value
)

func keyName(i int) string { return "k." + strconv.Itoa(i) }

// casKey is the key that the i-th load goroutine of a cas cell works on.
func casKey(i int) string { return "c." + strconv.Itoa(i) }

// benchValue is the value every write stores: valueSize bytes of letters.
func benchValue() []byte {
	v := make([]byte, valueSize)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range v {
		v[i] = byte('a' + r.IntN(26))
	}
	return v
}

// fill writes every key of put and get, and the cas keys of maxConc
// clients, from 32 goroutines.
func fill(ctx context.Context, c client, maxConc int) error {
	value := benchValue()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= numKeys || ctx.Err() != nil {
					return
				}
				if err := c.put(ctx, keyName(i), value); err != nil {
					errs[w] = fmt.Errorf("put %s: %w", keyName(i), err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i := range maxConc {
		if err := c.initCAS(ctx, casKey(i), value); err != nil {
			return fmt.Errorf("creating %s: %w", casKey(i), err)
		}
	}
	return ctx.Err()
}

// A cellKey names a cell of the tables: a system (by id), an operation
// and a number of concurrent clients.
type cellKey struct {
	sys  string
	op   opKind
	conc int
}

// A sample is what one round measured of one cell.
type sample struct {
	ops      int64  // successful operations
	errors   int64  // failed ones
	firstErr string // the first failure's message
	elapsed  time.Duration
	p50, p99 time.Duration // latencies of the successful operations
	perSync  float64       // writes per group-commit sync; 0 where there is none
	others   float64       // CPUs that other processes used meanwhile (1 = one CPU); -1 if unknown
}

// rate returns the successful operations per second.
func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ops) / s.elapsed.Seconds()
}

// A measurement is every sample of a run.
type measurement struct {
	systems []spec
	ops     []opKind
	concs   []int
	rounds  int
	samples map[cellKey][]sample // one per round, in round order
}

// measure runs every cell of systems × cfg.ops × cfg.concs once per round.
// Each round starts at a different place in the list of cells (the order
// rotated by a 1/rounds of its length), so that a change in the machine's
// load during the run does not fall on the same cells every round. Before
// each cell the file systems are synced, so that no cell pays for the
// dirty pages another left behind.
//
// cpu reports the CPU time used by the benchmark's processes (this one and
// its children) and by the whole machine, so that each sample can tell how
// much of the CPUs other work took meanwhile.
func measure(ctx context.Context, cfg config, systems []*system, cpu func() (ours, machine time.Duration, ok bool), log io.Writer) (*measurement, error) {
	m := &measurement{ops: cfg.ops, concs: cfg.concs, rounds: cfg.rounds, samples: map[cellKey][]sample{}}
	type cell struct {
		s    *system
		op   opKind
		conc int
	}
	var cells []cell
	for _, s := range systems {
		m.systems = append(m.systems, s.spec)
		for _, op := range cfg.ops {
			for _, n := range cfg.concs {
				cells = append(cells, cell{s, op, n})
			}
		}
	}
	value := benchValue()
	for r := range cfg.rounds {
		off := r * len(cells) / cfg.rounds
		for i := range cells {
			c := cells[(off+i)%len(cells)]
			syscall.Sync()
			if cfg.warmup > 0 {
				drive(ctx, c.s.c, c.op, c.conc, cfg.warmup, value)
			}
			var syncs0, waiters0 uint64
			if c.s.stats != nil {
				syncs0, waiters0 = c.s.stats()
			}
			ours0, machine0, ok0 := cpu()
			smp := drive(ctx, c.s.c, c.op, c.conc, cfg.duration, value)
			smp.others = -1
			if ours1, machine1, ok1 := cpu(); ok0 && ok1 {
				smp.others = max(0, float64((machine1-machine0)-(ours1-ours0))/float64(smp.elapsed))
			}
			if c.s.stats != nil && c.op != opGet {
				syncs1, waiters1 := c.s.stats()
				smp.perSync = perSync(syncs1-syncs0, waiters1-waiters0)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			k := cellKey{c.s.id, c.op, c.conc}
			m.samples[k] = append(m.samples[k], smp)
			fmt.Fprintf(log, "round %d/%d, cell %2d/%d: %-24s %-3s ×%-3d %9s ops/s  p50 %-8s p99 %-8s",
				r+1, cfg.rounds, i+1, len(cells), c.s.name, c.op, c.conc,
				formatCount(smp.rate()), formatDuration(smp.p50), formatDuration(smp.p99))
			if smp.others >= 0 {
				fmt.Fprintf(log, " other processes %3.0f%%", 100*smp.others)
			}
			if smp.errors > 0 {
				fmt.Fprintf(log, "  %d errors, the first: %s", smp.errors, smp.firstErr)
			}
			fmt.Fprintln(log)
		}
	}
	return m, nil
}

// drive runs op from conc goroutines for d, each starting its next
// operation as soon as the last returns. put and get pick a random key per
// operation; in cas each goroutine keeps to its own key. Operations started
// before d has passed run to their end and the elapsed time includes them.
// A cell that hangs is cut a minute after d.
func drive(ctx context.Context, c client, op opKind, conc int, d time.Duration, value []byte) sample {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	type worker struct {
		ops, errors int64
		firstErr    string
		hist        loadstat.Histogram
	}
	workers := make([]worker, conc)
	keys := make([]string, numKeys)
	for i := range keys {
		keys[i] = keyName(i)
	}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range workers {
		w := &workers[i]
		rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
		own := casKey(i)
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				var err error
				switch op {
				case opPut:
					err = c.put(ctx, keys[rng.IntN(numKeys)], value)
				case opGet:
					err = c.get(ctx, keys[rng.IntN(numKeys)])
				case opCAS:
					err = c.cas(ctx, own, value)
				}
				if err != nil {
					w.errors++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					continue
				}
				w.ops++
				w.hist.Record(time.Since(t0))
			}
		})
	}
	wg.Wait()
	s := sample{elapsed: time.Since(start)}
	var h loadstat.Histogram
	for i := range workers {
		w := &workers[i]
		s.ops += w.ops
		s.errors += w.errors
		if s.firstErr == "" {
			s.firstErr = w.firstErr
		}
		h.Merge(&w.hist)
	}
	s.p50, s.p99 = h.Quantile(0.50), h.Quantile(0.99)
	return s
}

// perSync is the mean number of writes that waited on each sync.
func perSync(syncs, waiters uint64) float64 {
	if syncs == 0 {
		return 0
	}
	return float64(waiters) / float64(syncs)
}
