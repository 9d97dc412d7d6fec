package watch

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/bucket"
)

// TestIndexMatchesFilters checks the index against bucket.Filter.Match for
// random filters and keys, with subscriptions added and removed.
func TestIndexMatchesFilters(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	toks := []string{"a", "b", "c", "user", "x:y"}
	randTokens := func(n int, wild bool) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = toks[r.IntN(len(toks))]
			if wild && r.IntN(4) == 0 {
				parts[i] = "*"
			}
		}
		if wild && r.IntN(4) == 0 {
			parts[n-1] = ">"
		}
		return strings.Join(parts, ".")
	}
	ix := newIndex()
	var subs []*Subscription
	for range 300 {
		f := bucket.MustParseFilter(randTokens(1+r.IntN(4), true))
		if r.IntN(20) == 0 {
			f = bucket.MustParseFilter("")
		}
		s := &Subscription{filter: f}
		ix.add(s)
		subs = append(subs, s)
	}
	// Remove a third of them.
	live := map[*Subscription]bool{}
	for i, s := range subs {
		if i%3 == 0 {
			if !ix.remove(s) {
				t.Fatalf("remove %q: not found", s.filter)
			}
			if ix.remove(s) {
				t.Fatalf("remove %q twice", s.filter)
			}
			continue
		}
		live[s] = true
	}
	if ix.n != len(live) {
		t.Fatalf("index counts %d, want %d", ix.n, len(live))
	}
	for range 2000 {
		key := randTokens(1+r.IntN(5), false)
		got := map[*Subscription]int{}
		ix.match(key, func(s *Subscription) { got[s]++ })
		for s := range live {
			want := s.filter.Match(key)
			if (got[s] == 1) != want || got[s] > 1 {
				t.Fatalf("key %q filter %q: matched %d times, want %v", key, s.filter, got[s], want)
			}
		}
		for s := range got {
			if !live[s] {
				t.Fatalf("key %q matched removed filter %q", key, s.filter)
			}
		}
	}
	for s := range live {
		ix.remove(s)
	}
	if !ix.root.empty() || len(ix.exact) != 0 || ix.n != 0 {
		t.Fatal("index not empty after removing every subscription")
	}
}
