package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// serverStartTimeout bounds the wait for the server's "listening" line.
	serverStartTimeout = time.Minute
	// serverStopTimeout bounds the wait for the server to exit after
	// SIGTERM; it is then killed.
	serverStopTimeout = 20 * time.Second
	// serverShutdownTimeout is the server's own -shutdown-timeout.
	serverShutdownTimeout = 5 * time.Second
	// serverLogLines is how many of the server's warnings and errors are
	// copied to the progress output; the rest are only counted.
	serverLogLines = 20
)

// buildServer builds examples/server into dir and returns the binary's
// path. It runs the go command of the toolchain in use, in the module of
// this program, so it works from any directory of the module.
func buildServer(ctx context.Context, dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build the server (or pass -server-bin): %w", err)
	}
	bin := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "github.com/ironkv/ironkv/examples/server")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./examples/server: %w\n%s", err, out)
	}
	return bin, nil
}

// child is the server binary running as a child process.
type child struct {
	cmd      *exec.Cmd
	pid      int
	httpAddr string // host:port of the HTTP API
	natsURL  string // nats://host:port of the embedded NATS server
	logDone  chan struct{}
	logCopy  io.Writer // receives every line of the log, if not nil

	mu       sync.Mutex
	problems []string // the server's first warnings and errors
	dropped  int      // warnings and errors beyond those
	tail     []string // the last lines of its log
	stopped  bool
}

// listening is the server's "listening" log line, in JSON.
type listening struct {
	Msg     string `json:"msg"`
	Addr    string `json:"addr"`
	NATSURL string `json:"nats_url"`
}

// startServer starts bin with memory storage, HTTP and NATS on free
// loopback ports and JSON logs, and returns once it logs that it listens.
// Every line of its log also goes to logCopy, if not nil. The caller must
// call stop.
func startServer(ctx context.Context, bin string, logCopy io.Writer) (*child, error) {
	cmd := exec.Command(bin,
		"-listen", "127.0.0.1:0",
		"-memory",
		"-nats-listen", "127.0.0.1:0",
		"-log-format", "json",
		"-shutdown-timeout", serverShutdownTimeout.String(),
	)
	// The server reads IRONKV_* variables (API keys, origins...); run it
	// with its defaults whatever the caller's environment holds.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IRONKV_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, logDone: make(chan struct{}), logCopy: logCopy}
	ready := make(chan listening, 1)
	go c.readLog(stderr, ready)

	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	select {
	case l := <-ready:
		c.httpAddr = l.Addr
		c.natsURL = l.NATSURL
		if c.natsURL == "" {
			_ = c.stop()
			return nil, errors.New("the server's listening line has no nats_url: was -nats-listen ignored?")
		}
		return c, nil
	case <-c.logDone:
		err := c.stop()
		return nil, fmt.Errorf("the server exited before listening (%v); its log ends with:\n%s", err, c.logTail())
	case <-timer.C:
		_ = c.stop()
		return nil, fmt.Errorf("the server did not log msg=listening within %v; its log ends with:\n%s", serverStartTimeout, c.logTail())
	case <-ctx.Done():
		_ = c.stop()
		return nil, ctx.Err()
	}
}

// readLog reads the server's log until it exits: it sends the listening
// line to ready, and keeps the warnings, errors and last lines.
func (c *child) readLog(r io.Reader, ready chan<- listening) {
	defer close(c.logDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		if c.logCopy != nil {
			fmt.Fprintln(c.logCopy, line)
		}
		var rec struct {
			listening
			Level   string `json:"level"`
			Secrets string `json:"secrets"`
		}
		_ = json.Unmarshal([]byte(line), &rec)
		c.mu.Lock()
		c.tail = append(c.tail, line)
		if len(c.tail) > 10 {
			c.tail = c.tail[1:]
		}
		// The startup warning that secrets are disabled (no master key)
		// is expected here: watchload does not use secrets.
		if (rec.Level == "WARN" || rec.Level == "ERROR") && rec.Secrets != "disabled" {
			if len(c.problems) < serverLogLines {
				c.problems = append(c.problems, line)
			} else {
				c.dropped++
			}
		}
		c.mu.Unlock()
		if !sent && rec.Msg == "listening" {
			sent = true
			ready <- rec.listening
		}
	}
	// Read to the end even after a scan error, so the server never blocks
	// on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// logTail returns the last lines of the server's log.
func (c *child) logTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// takeProblems returns the warnings and errors the server logged since the
// last call, and how many more there were.
func (c *child) takeProblems() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, d := c.problems, c.dropped
	c.problems, c.dropped = nil, 0
	return p, d
}

// stop sends SIGTERM to the server, waits for it to exit (killing it after
// serverStopTimeout) and reaps it. It is idempotent.
func (c *child) stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()

	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(serverStopTimeout)
	defer timer.Stop()
	killed := false
	select {
	case <-c.logDone:
	case <-timer.C:
		_ = c.cmd.Process.Kill()
		killed = true
		<-c.logDone
	}
	// The log pipe is at its end: Wait may now close it.
	err := c.cmd.Wait()
	if killed {
		return fmt.Errorf("the server did not exit within %v of SIGTERM and was killed", serverStopTimeout)
	}
	if err != nil {
		return fmt.Errorf("the server exited with %v; its log ends with:\n%s", err, c.logTail())
	}
	return nil
}
