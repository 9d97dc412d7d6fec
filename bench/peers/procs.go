package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// versions are the programs' versions, for the report.
type versions struct {
	etcd, redis, nats string
}

func natsVersions() string {
	return "nats-server v" + server.VERSION + ", nats.go v" + nats.Version
}

// debPackage is the Debian package of a program this benchmark runs.
func debPackage(program string) string {
	if program == "etcd" {
		return "etcd-server"
	}
	return program
}

// install makes sure the programs that sps need are on PATH, installing
// the missing ones with apt-get when running as root. It returns the
// programs still missing, each with the reason, and records the versions
// of the others.
func (l *lab) install(ctx context.Context, sps []spec) map[string]string {
	var need []string
	for _, sp := range sps {
		if sp.peer != "" && !slices.Contains(need, sp.peer) {
			need = append(need, sp.peer)
		}
	}
	var pkgs []string
	for _, p := range need {
		if _, err := exec.LookPath(p); err != nil {
			pkgs = append(pkgs, debPackage(p))
		}
	}
	missing := map[string]string{}
	if len(pkgs) > 0 {
		if err := l.aptInstall(ctx, pkgs); err != nil {
			fmt.Fprintln(l.log, err)
		}
	}
	for _, p := range need {
		if _, err := exec.LookPath(p); err != nil {
			missing[p] = fmt.Sprintf("%s is not installed (apt-get install -y %s)", p, debPackage(p))
			continue
		}
		v, err := programVersion(ctx, p)
		if err != nil {
			missing[p] = err.Error()
			continue
		}
		switch p {
		case "etcd":
			l.versions.etcd = v
		case "redis-server":
			l.versions.redis = v
		}
	}
	return missing
}

// aptInstall runs apt-get install -y pkgs, and apt-get update before a
// second try if the first fails. It does nothing but explain when the
// process is not root.
func (l *lab) aptInstall(ctx context.Context, pkgs []string) error {
	cmdline := "apt-get install -y " + strings.Join(pkgs, " ")
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s missing and not running as root: install with `sudo %s`; skipping the systems that need them", strings.Join(pkgs, " and "), cmdline)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s missing and there is no apt-get: install them by hand", strings.Join(pkgs, " and "))
	}
	fmt.Fprintf(l.log, "installing: %s\n", cmdline)
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(out, 20))
		}
		return nil
	}
	install := append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)
	err := apt(install...)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(l.log, "apt-get install failed; running apt-get update and trying again")
		if uerr := apt("update"); uerr != nil {
			return uerr
		}
		err = apt(install...)
	}
	return err
}

// programVersion returns the first line of `p --version`, shortened for
// redis-server to its "v=" field.
func programVersion(ctx context.Context, p string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v: %s", p, err, tail(out, 5))
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if p == "redis-server" {
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "v="); ok {
				return "Redis server v" + v, nil
			}
		}
	}
	return line, nil
}

// A child is a server running as a child process in a process group of
// its own, so that stopping it stops whatever it started too.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// startChild starts bin with args, its output going to logPath. The
// process is killed, with its group, when ctx ends or this process dies
// (on Linux); stop ends it gracefully.
func startChild(ctx context.Context, name, logPath string, env []string, bin string, args ...string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM to the child's process group, then SIGKILL if it has
// not exited within 10 s, and waits for it.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// exited returns an error describing the child's exit, with the end of
// its log, or nil while it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
		out, _ := os.ReadFile(c.logPath)
		return fmt.Errorf("%s exited (%v); its log ends:\n%s", c.name, c.waitErr, tail(out, 15))
	default:
		return nil
	}
}

// waitReady polls ready every 20 ms until it returns nil, the child exits,
// ctx ends, or a minute passes.
func (c *child) waitReady(ctx context.Context, ready func(context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for {
		if err := c.exited(); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		last = ready(pctx)
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become ready within a minute: %v", c.name, last)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-c.done:
		case <-ctx.Done():
		}
	}
}

// startPeer starts a child server on free loopback ports and waits until
// it is ready, trying again with other ports if it fails to start (a port
// may have been taken in between). args gets the data dir, created empty,
// and the ports.
func (l *lab) startPeer(ctx context.Context, name string, nports int, env []string, bin string,
	args func(dir string, ports []int) []string, ready func(ctx context.Context, ports []int) error,
) ([]int, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var ports []int
		ports, err = freePorts(nports)
		if err != nil {
			return nil, err
		}
		dir, derr := os.MkdirTemp(l.root, name+"-")
		if derr != nil {
			return nil, derr
		}
		data := filepath.Join(dir, "data")
		if err := os.Mkdir(data, 0o700); err != nil {
			return nil, err
		}
		var c *child
		c, err = startChild(ctx, name, filepath.Join(dir, "log"), env, bin, args(data, ports)...)
		if err != nil {
			return nil, err
		}
		l.onClose(c.stop)
		err = c.waitReady(ctx, func(ctx context.Context) error { return ready(ctx, ports) })
		if err == nil {
			l.pids = append(l.pids, c.cmd.Process.Pid)
			return ports, nil
		}
		c.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fmt.Fprintf(l.log, "%s: attempt %d failed: %v\n", name, attempt, err)
	}
	return nil, err
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, keeping path's permissions when it exists.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".peers-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
