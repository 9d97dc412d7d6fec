package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ironkv/ironkv/internal/httpload"
	"github.com/ironkv/ironkv/kv"
	"github.com/nats-io/nats.go/jetstream"
)

// A spec names a system and says what it needs.
type spec struct {
	id      string // short id for -systems
	name    string // as the tables show it
	durable bool   // an acknowledged write survives a power loss
	peer    string // the program it runs as a child: "etcd", "redis-server" or ""
}

// specs lists every system, in the order of the tables.
func specs() []spec {
	return []spec{
		{id: "gc", name: "ironkv group-commit", durable: true},
		{id: "always", name: "ironkv sync-always", durable: true},
		{id: "periodic", name: "ironkv periodic", durable: false},
		{id: "http", name: "ironkv HTTP group-commit", durable: true},
		{id: "nats-always", name: "NATS KV sync-always", durable: true},
		{id: "nats-periodic", name: "NATS KV periodic", durable: false},
		{id: "etcd", name: "etcd", durable: true, peer: "etcd"},
		{id: "redis-always", name: "Redis always", durable: true, peer: "redis-server"},
		{id: "redis-none", name: "Redis no-persist", durable: false, peer: "redis-server"},
	}
}

// opKind is one of the measured operations.
type opKind int

const (
	opPut opKind = iota
	opGet
	opCAS
)

// allOps lists the operations in the order of the tables.
func allOps() []opKind { return []opKind{opPut, opGet, opCAS} }

func (o opKind) String() string {
	switch o {
	case opPut:
		return "put"
	case opGet:
		return "get"
	case opCAS:
		return "cas"
	}
	return "op" + strconv.Itoa(int(o))
}

func parseOp(s string) (opKind, bool) {
	for _, o := range allOps() {
		if o.String() == s {
			return o, true
		}
	}
	return 0, false
}

// A client runs the workload's operations against one system. It is safe
// for concurrent use: the load goroutines share it, as each client library
// is meant to be shared (a pool or a multiplexed connection underneath).
type client interface {
	// put writes value to key unconditionally.
	put(ctx context.Context, key string, value []byte) error
	// get reads key, which must exist.
	get(ctx context.Context, key string) error
	// cas reads key's value and revision, then writes value on the
	// condition that the revision is unchanged; a conflict is an error.
	cas(ctx context.Context, key string, value []byte) error
	// initCAS creates key for cas.
	initCAS(ctx context.Context, key string, value []byte) error
}

// A system is a started, filled system ready to measure.
type system struct {
	spec
	c client
	// stats returns the group-commit barrier's running totals of syncs
	// and of the writes that waited on them; nil where there is none.
	stats func() (syncs, waiters uint64)
}

// errConflict is a compare-and-swap that lost, which the cas workload
// never expects since every client has a key of its own.
var errConflict = errors.New("compare-and-swap conflict")

const benchBucket = "bench"

// ironkvClient is a kv.Bucket.
type ironkvClient struct{ b *kv.Bucket }

func (c ironkvClient) put(ctx context.Context, key string, value []byte) error {
	_, err := c.b.Put(ctx, key, value)
	return err
}

func (c ironkvClient) get(ctx context.Context, key string) error {
	_, err := c.b.Get(ctx, key)
	return err
}

func (c ironkvClient) cas(ctx context.Context, key string, value []byte) error {
	e, err := c.b.Get(ctx, key)
	if err != nil {
		return err
	}
	_, err = c.b.Update(ctx, key, value, e.Revision)
	return err
}

func (c ironkvClient) initCAS(ctx context.Context, key string, value []byte) error {
	return c.put(ctx, key, value)
}

// natsClient is nats.go's jetstream.KeyValue.
type natsClient struct{ kv jetstream.KeyValue }

func (c natsClient) put(ctx context.Context, key string, value []byte) error {
	_, err := c.kv.Put(ctx, key, value)
	return err
}

func (c natsClient) get(ctx context.Context, key string) error {
	_, err := c.kv.Get(ctx, key)
	return err
}

func (c natsClient) cas(ctx context.Context, key string, value []byte) error {
	e, err := c.kv.Get(ctx, key)
	if err != nil {
		return err
	}
	_, err = c.kv.Update(ctx, key, value, e.Revision())
	return err
}

func (c natsClient) initCAS(ctx context.Context, key string, value []byte) error {
	return c.put(ctx, key, value)
}

// httpClient speaks to httpapi: PUT and GET of raw values, and a cas made
// of a GET for the ETag and a PUT with If-Match. It keeps a keep-alive
// connection per concurrent client, with internal/httpload (a lean
// HTTP/1.1 client, as wrk is), so that the client takes as little as
// possible of the CPU the server shares with it.
type httpClient struct {
	addr  string
	base  string              // /buckets/bench/keys/
	conns chan *httpload.Conn // idle connections
}

func (c httpClient) put(ctx context.Context, key string, value []byte) error {
	_, err := c.do(ctx, http.MethodPut, key, value, "")
	return err
}

func (c httpClient) get(ctx context.Context, key string) error {
	_, err := c.do(ctx, http.MethodGet, key, nil, "")
	return err
}

func (c httpClient) cas(ctx context.Context, key string, value []byte) error {
	etag, err := c.do(ctx, http.MethodGet, key, nil, "")
	if err != nil {
		return err
	}
	if etag == "" {
		return fmt.Errorf("GET %s: no ETag in the answer", key)
	}
	_, err = c.do(ctx, http.MethodPut, key, value, etag)
	return err
}

func (c httpClient) initCAS(ctx context.Context, key string, value []byte) error {
	return c.put(ctx, key, value)
}

// close closes the idle connections.
func (c httpClient) close() {
	for {
		select {
		case conn := <-c.conns:
			_ = conn.Close()
		default:
			return
		}
	}
}

// do sends one request on an idle connection (a new one when none is
// idle) and returns the answer's ETag. Anything but 200 is an error; 412 is
// a conflict.
func (c httpClient) do(ctx context.Context, method, key string, body []byte, ifMatch string) (string, error) {
	var conn *httpload.Conn
	select {
	case conn = <-c.conns:
	default:
		var err error
		if conn, err = httpload.Dial(ctx, c.addr, time.Minute); err != nil {
			return "", err
		}
	}
	var header []string
	if method == http.MethodGet {
		header = append(header, "Accept: application/octet-stream")
	}
	if ifMatch != "" {
		header = append(header, "If-Match: "+ifMatch)
	}
	resp, err := conn.Do(ctx, method, c.base+key, header, body)
	if err != nil {
		_ = conn.Close()
		return "", fmt.Errorf("%s %s: %w", method, key, err)
	}
	status, etag := resp.Status, string(resp.ETag)
	select {
	case c.conns <- conn:
	default:
		_ = conn.Close()
	}
	switch {
	case status == http.StatusPreconditionFailed:
		return "", fmt.Errorf("%s %s: %w", method, key, errConflict)
	case status != http.StatusOK:
		return "", fmt.Errorf("%s %s: status %d", method, key, status)
	}
	return etag, nil
}
