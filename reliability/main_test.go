package reliability_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if binDir != "" {
			_ = os.RemoveAll(binDir)
		}
		os.Exit(code)
	}))
}

// isLong reports whether IRONKV_LONG=1 asks for the long runs.
func isLong() bool { return os.Getenv("IRONKV_LONG") == "1" }

// sized returns short, or long under IRONKV_LONG=1.
func sized[T any](short, long T) T {
	if isLong() {
		return long
	}
	return short
}

// The server binary, built once per test binary.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// serverBinary builds ./examples/server (without -race: the figures are the
// binary's, and the server's own race tests run in its package) and returns
// its path.
func serverBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "ironkv-reliability-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "ironkv-server")
		start := time.Now()
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/ironkv/ironkv/examples/server").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./examples/server: %v\n%s", err, out)
			return
		}
		t.Logf("built the server in %v", time.Since(start).Round(time.Millisecond))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// artifactDir returns where a check keeps what explains a failure:
// $IRONKV_ARTIFACTS, or else a new directory that outlives the test.
func artifactDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("IRONKV_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "ironkv-artifacts-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
