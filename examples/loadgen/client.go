package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/ironkv/ironkv/internal/httpload"
	"github.com/ironkv/ironkv/internal/loadstat"
)

// The clients: lean (internal/httpload, one keep-alive connection and
// goroutine each, as wrk does) and net/http's own.
const (
	clientLean    = "lean"
	clientNetHTTP = "net/http"
)

// A client sends the requests of one contender: worker i of drive uses
// connection i.
type client interface {
	do(ctx context.Context, worker int, method, path string, body []byte) error
	close()
}

// newClient returns a client of the given kind for the server at addr
// (host:port) with conns connections.
func newClient(kind, addr string, conns int) client {
	if kind == clientNetHTTP {
		return netHTTPClient{base: "http://" + addr, c: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        conns,
				MaxIdleConnsPerHost: conns,
				MaxConnsPerHost:     conns,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
				ForceAttemptHTTP2:   false,
			},
		}}
	}
	return &leanClient{addr: addr, conns: make([]*httpload.Conn, conns)}
}

// leanClient keeps one httpload.Conn per worker, opened on first use.
type leanClient struct {
	addr  string
	conns []*httpload.Conn
}

func (c *leanClient) do(ctx context.Context, worker int, method, path string, body []byte) error {
	conn := c.conns[worker]
	if conn == nil {
		var err error
		if conn, err = httpload.Dial(ctx, c.addr, 30*time.Second); err != nil {
			return err
		}
		c.conns[worker] = conn
	}
	r, err := conn.Do(ctx, method, path, nil, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.Status < 200 || r.Status > 299 {
		return fmt.Errorf("%s %s: status %d", method, path, r.Status)
	}
	return nil
}

func (c *leanClient) close() {
	for i, conn := range c.conns {
		if conn != nil {
			_ = conn.Close()
			c.conns[i] = nil
		}
	}
}

// netHTTPClient is net/http's client with a Transport that keeps as many
// connections open to the server as there are workers, and never more.
type netHTTPClient struct {
	base string
	c    *http.Client
}

// do sends one request and reads the answer to the end, so that the
// connection is reused.
func (c netHTTPClient) do(ctx context.Context, _ int, method, path string, value []byte) error {
	var body io.Reader
	if value != nil {
		body = bytes.NewReader(value)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return err
}

func (c netHTTPClient) close() { c.c.CloseIdleConnections() }

// A target is what one contender is asked: a method and a path per key.
type target struct {
	method string
	paths  []string // one per preloaded key
	value  []byte   // the PUT body; nil for GET
}

// A sample is what one timed run of a target measured.
type sample struct {
	requests int64
	errors   int64
	firstErr string // the first error, for the log
	elapsed  time.Duration
	cpu      time.Duration // used by this process during the run; -1 if unknown
	others   time.Duration // used by the rest of the machine; -1 if unknown
	hist     loadstat.Histogram
}

// rate returns the completed requests per second, errors included.
func (s *sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.requests) / s.elapsed.Seconds()
}

// drive sends t's requests from conns goroutines, each picking a random key
// per request and waiting for the answer before the next, for d or until
// ctx ends. Requests started before d has passed run to their end, so that
// no connection is cut and the next run finds them all open; the elapsed
// time includes them. A transport error and an answer that is not 2xx count
// as errors. The bodies are read to the end so that connections are reused.
// The goroutines carry the profiler label side=client. The sample has the
// CPU time that the whole process used meanwhile (client, servers and
// NATS), and that the rest of the machine did.
func drive(ctx context.Context, c client, t target, conns int, d time.Duration) *sample {
	type worker struct {
		requests, errors int64
		firstErr         string
		hist             loadstat.Histogram
	}
	workers := make([]worker, conns)
	var wg sync.WaitGroup
	self0, machine0, cpuOK := loadstat.CPUTimes()
	start := time.Now()
	deadline := start.Add(d)
	pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
		for i := range workers {
			w := &workers[i]
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
			wg.Go(func() {
				for ctx.Err() == nil {
					t0 := time.Now()
					if !t0.Before(deadline) {
						return
					}
					path := t.paths[rng.IntN(len(t.paths))]
					err := c.do(ctx, i, t.method, path, t.value)
					w.requests++
					w.hist.Record(time.Since(t0))
					if err != nil {
						w.errors++
						if w.firstErr == "" {
							w.firstErr = err.Error()
						}
					}
				}
			})
		}
		wg.Wait()
	})
	s := &sample{elapsed: time.Since(start), cpu: -1, others: -1}
	if self1, machine1, ok := loadstat.CPUTimes(); ok && cpuOK {
		s.cpu = self1 - self0
		s.others = max(0, machine1-machine0-s.cpu)
	}
	for i := range workers {
		w := &workers[i]
		s.requests += w.requests
		s.errors += w.errors
		if s.firstErr == "" {
			s.firstErr = w.firstErr
		}
		s.hist.Merge(&w.hist)
	}
	return s
}
