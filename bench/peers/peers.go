package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdClient is one clientv3.Client shared by every load goroutine: it
// multiplexes their calls as gRPC streams over one HTTP/2 connection, which
// is how etcd's client is meant to be used. Reads are linearizable (the
// default), so each goes through etcd's ReadIndex.
type etcdClient struct{ c *clientv3.Client }

func (c etcdClient) put(ctx context.Context, key string, value []byte) error {
	_, err := c.c.Put(ctx, key, string(value))
	return err
}

func (c etcdClient) get(ctx context.Context, key string) error {
	_, err := c.read(ctx, key)
	return err
}

func (c etcdClient) read(ctx context.Context, key string) (int64, error) {
	resp, err := c.c.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("etcd: key %q not found", key)
	}
	return resp.Kvs[0].ModRevision, nil
}

// cas is a Get, then a Txn that puts only if the key's ModRevision is
// still the one read.
func (c etcdClient) cas(ctx context.Context, key string, value []byte) error {
	rev, err := c.read(ctx, key)
	if err != nil {
		return err
	}
	resp, err := c.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, string(value))).
		Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcd %s: %w", key, errConflict)
	}
	return nil
}

func (c etcdClient) initCAS(ctx context.Context, key string, value []byte) error {
	return c.put(ctx, key, value)
}

// startEtcd starts a single-member etcd on loopback with its data in the
// lab and returns a client. etcd fsyncs its WAL before acknowledging,
// once per batch of proposals (its group commit). The backend quota is
// raised to 8 GiB because nothing compacts the history during the run.
func (l *lab) startEtcd(ctx context.Context) (client, error) {
	env := []string{"ETCD_UNSUPPORTED_ARCH=" + runtime.GOARCH}
	args := func(dir string, p []int) []string {
		client := "http://127.0.0.1:" + strconv.Itoa(p[0])
		peer := "http://127.0.0.1:" + strconv.Itoa(p[1])
		return []string{
			"--name", "b", "--data-dir", dir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "b=" + peer,
			"--quota-backend-bytes", strconv.FormatInt(8<<30, 10),
			"--logger", "zap", "--log-level", "warn",
		}
	}
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	ready := func(ctx context.Context, p []int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(p[0])+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"true"`) {
			return fmt.Errorf("/health: %s %s", resp.Status, body)
		}
		return nil
	}
	ports, err := l.startPeer(ctx, "etcd", 2, env, "etcd", args, ready)
	if err != nil {
		return nil, err
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"127.0.0.1:" + strconv.Itoa(ports[0])},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, err
	}
	l.onClose(func() { _ = c.Close() })
	return etcdClient{c}, nil
}

// redisCAS compares the version field of a hash with ARGV[1] and, when
// equal, sets its value to ARGV[2] and its version to the next number,
// atomically (Redis runs a script to its end before anything else).
const redisCAS = `
if redis.call('HGET', KEYS[1], 'ver') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'val', ARGV[2], 'ver', tostring(tonumber(ARGV[1]) + 1))
  return 1
end
return 0
`

// redisClient is one go-redis client, whose pool holds a connection per
// concurrent client. put and get are SET and GET of string keys; the cas
// keys are hashes {val, ver}, read with HMGET and written by the redisCAS
// script through EVALSHA.
type redisClient struct {
	c      *redis.Client
	script *redis.Script
}

func (c redisClient) put(ctx context.Context, key string, value []byte) error {
	return c.c.Set(ctx, key, value, 0).Err()
}

func (c redisClient) get(ctx context.Context, key string) error {
	return c.c.Get(ctx, key).Err()
}

func (c redisClient) cas(ctx context.Context, key string, value []byte) error {
	vals, err := c.c.HMGet(ctx, key, "val", "ver").Result()
	if err != nil {
		return err
	}
	ver, ok := vals[1].(string)
	if !ok {
		return fmt.Errorf("redis: cas key %q has no version", key)
	}
	n, err := c.script.EvalSha(ctx, c.c, []string{key}, ver, value).Int()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("redis %s: %w", key, errConflict)
	}
	return nil
}

func (c redisClient) initCAS(ctx context.Context, key string, value []byte) error {
	return c.c.HSet(ctx, key, "val", value, "ver", "1").Err()
}

// startRedis starts redis-server on loopback with its data in the lab,
// with an append-only file fsynced before every reply (appendfsync
// always) or with no persistence at all, and returns a client.
func (l *lab) startRedis(ctx context.Context, always bool, maxConc int) (client, error) {
	name := "redis-none"
	persist := []string{"--appendonly", "no", "--save", ""}
	if always {
		name = "redis-always"
		persist = []string{"--appendonly", "yes", "--appendfsync", "always", "--save", ""}
	}
	args := func(dir string, p []int) []string {
		return append([]string{
			"--port", strconv.Itoa(p[0]), "--bind", "127.0.0.1", "--dir", dir,
			"--daemonize", "no", "--maxclients", strconv.Itoa(max(1000, 2*maxConc)),
		}, persist...)
	}
	ready := func(ctx context.Context, p []int) error {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p[0]), MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	ports, err := l.startPeer(ctx, name, 1, nil, "redis-server", args, ready)
	if err != nil {
		return nil, err
	}
	c := redis.NewClient(&redis.Options{
		Addr:         "127.0.0.1:" + strconv.Itoa(ports[0]),
		PoolSize:     maxConc + 4,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
	})
	l.onClose(func() { _ = c.Close() })
	script := redis.NewScript(redisCAS)
	if err := script.Load(ctx, c).Err(); err != nil {
		return nil, fmt.Errorf("loading the cas script: %w", err)
	}
	if got, err := c.ConfigGet(ctx, "appendfsync").Result(); err != nil {
		return nil, err
	} else if always && got["appendfsync"] != "always" {
		return nil, errors.New("redis-server ignored --appendfsync always")
	}
	return redisClient{c: c, script: script}, nil
}
