package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRun runs a tiny load end to end, server binary included, and checks
// only that it is correct: every watcher of the hub gets exactly the events
// its filter selects, the hub holds one consumer, the baseline one per
// watcher, and nothing fails. It asserts nothing about speed.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server binary")
	}
	defer goleak.VerifyNone(t)
	cfg, err := parseFlags([]string{
		"-watchers", "20",
		"-broadcast-watchers", "20",
		"-rate", "50",
		"-broadcast-rate", "50",
		"-duration", "2s",
		"-drain", "30s",
		"-settle", "100ms",
		"-scenarios", "targeted,broadcast,baseline-targeted",
	}, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results, err := run(ctx, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("got %d results, want 3", len(results))
	}
	for _, r := range results {
		t.Run(r.name, func(t *testing.T) {
			if r.connect.opened != 20 || r.connect.failed != 0 {
				t.Errorf("opened %d watchers, %d failed (%v); want 20, 0", r.connect.opened, r.connect.failed, r.connect.firstErr)
			}
			if r.putsOK != 100 || r.putsFailed != 0 {
				t.Errorf("%d puts, %d failed (%v); want 100, 0", r.putsOK, r.putsFailed, r.putErr)
			}
			want := int64(100)
			if r.broadcast {
				want = 100 * 20
			}
			if r.expected != want {
				t.Errorf("expected %d events, want %d", r.expected, want)
			}
			if r.disorder != 0 || r.foreign != 0 || r.bad != 0 || r.extra != 0 {
				t.Errorf("out of order %d, foreign %d, unreadable %d, extra %d; want none", r.disorder, r.foreign, r.bad, r.extra)
			}
			if r.ended != 0 {
				t.Errorf("%d watchers ended early: %s", r.ended, r.endedExample)
			}
			if r.asyncErr != nil {
				t.Error(r.asyncErr)
			}
			for _, e := range r.errs {
				t.Error(e)
			}
			for _, p := range r.serverProblems {
				t.Errorf("server logged: %s", p)
			}
			if n := r.latency.total.Load(); n != uint64(r.delivered) {
				t.Errorf("%d latencies for %d events", n, r.delivered)
			}
			if r.baseline {
				if r.consumersIdle != 20 {
					t.Errorf("baseline: %d consumers with the watchers open, want 20", r.consumersIdle)
				}
				return
			}
			if !r.drained || r.delivered != r.expected || r.missing != 0 {
				t.Errorf("hub: delivered %d of %d (missing %d, drained %v), want all", r.delivered, r.expected, r.missing, r.drained)
			}
			if r.consumersIdle != 1 || r.consumersMin != 1 || r.consumersMax != 1 {
				t.Errorf("hub: consumers %d idle, %d-%d during the run; want 1", r.consumersIdle, r.consumersMin, r.consumersMax)
			}
		})
	}

	var out bytes.Buffer
	writeReport(&out, cfg, results)
	for _, s := range []string{"| scenario |", "| targeted (hub, WebSocket) | 20 |", "| baseline-targeted (NATS watch per client) | 20 |"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

func TestParseUpdate(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		key   string
		rev   uint64
		sent  time.Duration
		ok    bool
	}{
		{"put", `{"type":"kv_update","bucket":"watchload","key":"k.7","value":"AAAAAAAAAAE=","revision":42,"operation":"put"}`, "k.7", 42, 1, true},
		{"large time", `{"type":"kv_update","bucket":"b","key":"k.0","value":"AAAA3q2+7wA=","revision":18446744073709551615,"operation":"put"}`, "k.0", 1<<64 - 1, 0xdeadbeef00, true},
		{"delete has no value", `{"type":"kv_update","bucket":"b","key":"k.0","revision":3,"operation":"delete"}`, "", 0, 0, false},
		{"value not 8 bytes", `{"type":"kv_update","bucket":"b","key":"k.0","value":"aGk=","revision":3,"operation":"put"}`, "", 0, 0, false},
		{"synced", `{"type":"kv_synced","revision":9}`, "", 0, 0, false},
		{"error", `{"type":"error","message":"bucket deleted"}`, "", 0, 0, false},
		{"no revision", `{"type":"kv_update","bucket":"b","key":"k.0","value":"AAAAAAAAAAE=","operation":"put"}`, "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, rev, sent, err := parseUpdate([]byte(tt.frame))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if string(key) != tt.key || rev != tt.rev || sent != tt.sent {
				t.Errorf("got %q %d %d, want %q %d %d", key, rev, sent, tt.key, tt.rev, tt.sent)
			}
		})
	}
	if msg, ok := errorFrame([]byte(`{"type":"error","message":"bucket deleted"}`)); !ok || msg != "bucket deleted" {
		t.Errorf("errorFrame = %q, %v", msg, ok)
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(c.q)
		if d := got - c.want; d < 0 || d > c.want/100 {
			t.Errorf("quantile(%v) = %v, want %v to 1%% above", c.q, got, c.want)
		}
	}
	if got := time.Duration(h.max.Load()); got != time.Millisecond {
		t.Errorf("max = %v, want 1ms", got)
	}
	for _, v := range []uint64{0, 255, 256, 257, 1 << 20, 1<<41 - 1} {
		if b := bucketOf(v); bucketHigh(b) < v || (b > 0 && bucketHigh(b-1) >= v) {
			t.Errorf("value %d in bucket %d, whose top is %d", v, b, bucketHigh(b))
		}
	}
}

// testWriter writes progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
