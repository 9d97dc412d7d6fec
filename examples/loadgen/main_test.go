package main

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ironkv/ironkv/embedded"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the whole program once with tiny settings and checks that
// every request succeeded and the table has a row per contender and op. It
// asserts nothing about speed.
func TestRun(t *testing.T) {
	cfg := Config{
		Duration:  200 * time.Millisecond,
		Rounds:    1,
		Warmup:    50 * time.Millisecond,
		Conns:     4,
		Keys:      100,
		ValueSize: 128,
		Modes:     []embedded.Durability{embedded.SyncPeriodicLosesRecentWrites},
		Ops:       []string{opGet, opPut},
		Dir:       t.TempDir(),
		Client:    clientLean,
	}
	var out, log bytes.Buffer
	results, err := run(t.Context(), cfg, &out, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if len(results) != 4 {
		t.Fatalf("got %d results, want 4 (2 ops x 2 contenders)", len(results))
	}
	for _, r := range results {
		name := r.op + " " + r.contender
		if r.errors != 0 {
			t.Errorf("%s: %d errors, the first: %s", name, r.errors, r.firstErr)
		}
		if r.requests == 0 || len(r.rates) != cfg.Rounds || r.rates[0] <= 0 {
			t.Errorf("%s: %d requests, rates %v", name, r.requests, r.rates)
		}
		if r.hist.Count() != uint64(r.requests) {
			t.Errorf("%s: %d latencies for %d requests", name, r.hist.Count(), r.requests)
		}
	}
	table := out.String()
	for _, op := range cfg.Ops {
		for _, c := range []string{contenderAPI, contenderBare} {
			prefix := "| sync-periodic-loses-recent-writes | " + op + " | " + c + " | "
			row := ""
			for line := range strings.Lines(table) {
				if strings.HasPrefix(line, prefix) {
					row = line
				}
			}
			if row == "" {
				t.Errorf("no row for %s %s in:\n%s", op, c, table)
				continue
			}
			cells := strings.Split(strings.Trim(strings.TrimSpace(row), "|"), "|")
			if len(cells) != 12 {
				t.Errorf("row %q has %d cells, want 12", row, len(cells))
				continue
			}
			if got := strings.TrimSpace(cells[8]); got != "0" {
				t.Errorf("row %q: errors %s, want 0", row, got)
			}
			for _, ratio := range cells[9:11] {
				ratio = strings.TrimSpace(ratio)
				if c == contenderAPI && !strings.HasSuffix(ratio, "x (met)") && !strings.HasSuffix(ratio, "x (missed)") {
					t.Errorf("row %q: API/bare is %q, want a ratio", row, ratio)
				}
				if c == contenderBare && ratio != "" {
					t.Errorf("row %q: API/bare is %q for the bare handler", row, ratio)
				}
			}
		}
	}
}

// TestDriveCountsErrors checks that an answer that is not 2xx counts as an
// error and a 2xx one does not.
func TestDriveCountsErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		allErrors bool
	}{
		{http.StatusOK, false},
		{http.StatusNoContent, false},
		{http.StatusNotFound, true},
		{http.StatusPreconditionFailed, true},
		{http.StatusInternalServerError, true},
	} {
		for _, kind := range []string{clientLean, clientNetHTTP} {
			t.Run(kind+"/"+http.StatusText(tc.status), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.WriteHeader(tc.status)
				}))
				defer srv.Close()
				c := newClient(kind, strings.TrimPrefix(srv.URL, "http://"), 2)
				defer c.close()
				s := drive(t.Context(), c, newTarget(opPut, "/", []string{"a", "b"}, []byte("v")), 2, 50*time.Millisecond)
				if s.requests == 0 {
					t.Fatal("no requests")
				}
				want := int64(0)
				if tc.allErrors {
					want = s.requests
				}
				if s.errors != want {
					t.Errorf("%d errors in %d requests, want %d (first: %s)", s.errors, s.requests, want, s.firstErr)
				}
			})
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, profile, err := parseFlags([]string{
		"-modes", "always, sync-periodic-loses-recent-writes", "-ops", "PUT",
		"-conns", "8", "-duration", "1s", "-cpuprofile", "cpu.out", "-commit-delay", "-1ns",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []embedded.Durability{embedded.SyncAlways, embedded.SyncPeriodicLosesRecentWrites}; !slices.Equal(cfg.Modes, want) {
		t.Errorf("modes %v, want %v", cfg.Modes, want)
	}
	if !slices.Equal(cfg.Ops, []string{opPut}) || cfg.Conns != 8 || cfg.Duration != time.Second || profile != "cpu.out" || cfg.CommitDelay != -1 {
		t.Errorf("got %+v, profile %q", cfg, profile)
	}

	def, _, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := defaultConfig(); !slices.Equal(def.Modes, want.Modes) || !slices.Equal(def.Ops, want.Ops) || def.Conns != 64 || def.CommitDelay != 0 {
		t.Errorf("defaults %+v, want %+v", def, want)
	}

	for _, args := range [][]string{
		{"-modes", "sometimes"},
		{"-modes", ","},
		{"-ops", "delete"},
		{"-conns", "0"},
		{"-rounds", "0"},
		{"-duration", "0s"},
		{"extra"},
	} {
		if _, _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", args)
		}
	}
}

func TestMedianAndRatio(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
	// Round by round: 0.5, none (no bare figure), 0.9, 1.
	api := []float64{50, 10, 90, 100}
	bare := []float64{100, 0, 100, 100}
	if got, want := pairedRatio(api, bare), 0.9; math.Abs(got-want) > 1e-9 {
		t.Errorf("pairedRatio = %v, want %v", got, want)
	}
	if got := thousands(1234567.4); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
	for x, want := range map[float64]string{0.849: "0.84x (missed)", 0.85: "0.85x (met)", 1.234: "1.23x (met)"} {
		if got := verdict(x); got != want {
			t.Errorf("verdict(%v) = %q, want %q", x, got, want)
		}
	}
}
