package kv_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go/jetstream"
)

// The tests in this file check the key index (Keys, KeysPage) against the
// bucket's stream itself, read with plain jetstream calls, under concurrent
// writers, expiries, paging and bucket re-creation.

// propKeys is the key space of TestKeysIndexAgreesWithStream: nested tokens
// so that wildcard filters select different subsets, neighbours in sort
// order ("a-b.c", "a.b", "a/b"), and bytes that the key encoding escapes
// (':', ' ', '=', non-ASCII), so that stream subjects and keys differ.
var propKeys = []string{
	"a", "a.b", "a.b.c", "a.b.d", "a.b.c.d", "a.bb.c", "a.x.c", "a.é.c", "a-b.c", "a/b",
	"b.b", "k=v", "t.1.2", "t.1.3", "t.2.2", "t.10.2", "t.1.2.3", "u:1", "u:1.x", "u:2",
	"x y", "x y.z", "é.c",
}

// propFilters are the filters the index is compared under: every key,
// literal prefixes with ">" and "*", leading wildcards, and literal keys.
var propFilters = []string{
	">", "*", "a.>", "a.*", "a.*.c", "a.b.>", "*.b", "*.*.c", "t.*.2", "t.1.*", "t.>",
	"x y.>", "a", "a.b.c", "u:1", "x y", "é.c", "k=v", "nothing", "nothing.>",
}

// Headers with which a stream message says that its key has no value.
const (
	hdrOperation = "KV-Operation"       // DEL or PURGE, written by KV clients
	hdrMarker    = "Nats-Marker-Reason" // MaxAge and others, written by the server
)

// streamState is what a bucket's stream says about its keys.
type streamState struct {
	live    []string // keys whose last message holds a value, sorted
	expired int      // keys whose last message is an expiry marker
}

// readStream computes the live keys of bucket name from its stream alone:
// every subject the stream holds, and the last message of each. A key is
// live when that message is neither a KV tombstone (KV-Operation DEL or
// PURGE) nor a server marker; an expired value is removed by the server
// and replaced by a MaxAge marker.
func readStream(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) streamState {
	t.Helper()
	full, err := bucket.App.Qualify(name)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "$KV." + full + "."
	st, err := js.Stream(ctx, bucket.App.StreamName(name))
	if err != nil {
		t.Fatalf("read stream of %s: %v", name, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		t.Fatalf("read stream of %s: %v", name, err)
	}
	var s streamState
	for subj := range info.State.Subjects {
		m, err := st.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed since the info was read
		}
		if err != nil {
			t.Fatalf("read last message of %s: %v", subj, err)
		}
		key, err := bucket.DecodeKey(strings.TrimPrefix(subj, prefix))
		if err != nil {
			t.Fatalf("stream of %s holds subject %q, which no ironkv key encodes to: %v", name, subj, err)
		}
		switch {
		case m.Header.Get(hdrMarker) == "MaxAge":
			s.expired++
		case m.Header.Get(hdrMarker) != "":
		case m.Header.Get(hdrOperation) == "DEL" || m.Header.Get(hdrOperation) == "PURGE":
		default:
			s.live = append(s.live, key)
		}
	}
	slices.Sort(s.live)
	return s
}

// selectKeys returns the keys of sorted that match filter, in order.
func selectKeys(sorted []string, filter string) []string {
	f := bucket.MustParseFilter(filter)
	out := []string{}
	for _, k := range sorted {
		if f.Match(k) {
			out = append(out, k)
		}
	}
	return out
}

// indexView is one Store's handle on the bucket under test.
type indexView struct {
	name string
	b    *kv.Bucket
}

// listAll pages through Keys(filter) with the given page size and returns
// the concatenation, failing the test on a malformed page.
func listAll(ctx context.Context, t *testing.T, b *kv.Bucket, filter string, limit int) []string {
	t.Helper()
	var all []string
	after := ""
	for range 10_000 {
		p, err := b.KeysPage(ctx, filter, after, limit)
		if err != nil {
			t.Fatalf("KeysPage(%q, after %q, %d): %v", filter, after, limit, err)
		}
		if len(p.Keys) > limit || p.Next != "" && (len(p.Keys) == 0 || p.Next != p.Keys[len(p.Keys)-1]) {
			t.Fatalf("KeysPage(%q, after %q, %d) = %q, next %q: page too long or next is not its last key", filter, after, limit, p.Keys, p.Next)
		}
		all = append(all, p.Keys...)
		if p.Next == "" {
			return all
		}
		after = p.Next
	}
	t.Fatalf("paging Keys(%q) does not end", filter)
	return nil
}

// compareWithStream compares Keys of every view, for every filter of
// propFilters, and a paged listing of every key, with the stream. Writers
// must be paused. Expiries keep changing the stream meanwhile, so the
// stream is read before and after the listings, and the comparison is made
// only when both reads agree: the live set only shrinks while writers are
// paused, so the listings then saw exactly that state.
func compareWithStream(ctx context.Context, t *testing.T, js jetstream.JetStream, name, label string, views ...indexView) streamState {
	t.Helper()
	const attempts = 50
	for attempt := 1; ; attempt++ {
		before := readStream(ctx, t, js, name)
		got := make([][][]string, len(views))
		paged := make([][]string, len(views))
		for i, v := range views {
			got[i] = make([][]string, len(propFilters))
			for j, f := range propFilters {
				keys, err := v.b.Keys(ctx, f)
				if err != nil {
					t.Fatalf("%s: store %s: Keys(%q): %v", label, v.name, f, err)
				}
				if keys == nil {
					t.Fatalf("%s: store %s: Keys(%q) returned nil", label, v.name, f)
				}
				got[i][j] = keys
			}
			paged[i] = listAll(ctx, t, v.b, ">", 4)
		}
		after := readStream(ctx, t, js, name)
		if !slices.Equal(before.live, after.live) {
			if attempt == attempts {
				t.Fatalf("%s: keys expired during each of %d comparisons", label, attempts)
			}
			continue
		}
		for i, v := range views {
			for j, f := range propFilters {
				if want := selectKeys(before.live, f); !slices.Equal(got[i][j], want) {
					t.Errorf("%s: store %s: Keys(%q)\n  index  %q\n  stream %q", label, v.name, f, got[i][j], want)
				}
			}
			if !slices.Equal(paged[i], before.live) {
				t.Errorf("%s: store %s: paged Keys(\">\")\n  index  %q\n  stream %q", label, v.name, paged[i], before.live)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		t.Logf("%s: %d stores agree with the stream on %d live keys (%d expired; attempt %d)", label, len(views), len(before.live), before.expired, attempt)
		return before
	}
}

// testSeed returns the seed of a randomised test, from IRONKV_SEED when set,
// and logs it.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("IRONKV_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("IRONKV_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay the operations with IRONKV_SEED=%d; their interleaving differs)", seed, seed)
	return seed
}

// randomWrite applies one random operation to a random key of keys.
// Conflicts of conditional writes and missing keys are outcomes, not
// errors.
func randomWrite(ctx context.Context, r *rand.Rand, b *kv.Bucket, keys []string) error {
	k := keys[r.IntN(len(keys))]
	v := []byte(strconv.Itoa(r.IntN(1000)))
	var err error
	switch n := r.IntN(20); {
	case n < 7:
		_, err = b.Put(ctx, k, v)
	case n < 10:
		_, err = b.Create(ctx, k, v)
	case n < 13, n >= 18:
		var e kv.Entry
		if e, err = b.Get(ctx, k); err != nil {
			break
		}
		if n < 13 {
			_, err = b.Update(ctx, k, v, e.Revision)
		} else {
			err = b.Delete(ctx, k, kv.IfRevision(e.Revision))
		}
	case n < 16:
		err = b.Delete(ctx, k)
	default:
		err = b.Purge(ctx, k)
	}
	if errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrKeyNotFound) {
		return nil
	}
	return err
}

// checkListing fails the test unless keys is strictly increasing, every key
// matches filter and belongs to the key space.
func checkListing(t *testing.T, who, filter string, keys, space []string) {
	t.Helper()
	f := bucket.MustParseFilter(filter)
	for i, k := range keys {
		if i > 0 && keys[i-1] >= k {
			t.Errorf("%s: Keys(%q) not strictly increasing: %q then %q", who, filter, keys[i-1], k)
		}
		if !f.Match(k) {
			t.Errorf("%s: Keys(%q) lists %q, which does not match", who, filter, k)
		}
		if !slices.Contains(space, k) {
			t.Errorf("%s: Keys(%q) lists %q, which nobody wrote", who, filter, k)
		}
	}
}

// TestKeysIndexAgreesWithStream proves that the key index of every Store
// lists exactly the keys whose last message in the bucket's stream holds a
// value, under every filter of propFilters and when paged, whoever wrote
// them. Four concurrent writers, two on each of two Stores on separate
// connections, apply random Put, Create, Update, Delete and Purge
// (conditional ones included) to keys with nested and escaped tokens, in a
// bucket with a history of 3 whose values expire after one second. After
// each phase the writers pause and the indexes are compared with the
// stream, read with plain jetstream calls: Store A's index was built on the
// empty bucket, B's is built at the second checkpoint, C's at the end. The
// phases cover expiry markers that arrive while writers run, a few keys
// kept alive while all others expire, writes over expiry markers, and the
// expiry of every key. Finally the bucket is deleted: Keys fails with
// ErrBucketNotFound on every Store, and a new bucket of the same name
// starts with empty indexes that follow its writes only. While writers
// run, a reader checks that every listing is strictly sorted, matches its
// filter and lists only keys that were written.
func TestKeysIndexAgreesWithStream(t *testing.T) {
	stateSources(t, func(t *testing.T, src kv.Option) {
		const (
			name         = "prop"
			phases       = 4
			writers      = 4
			opsPerWriter = 60
		)
		ctx := ctxT(t)
		seed := testSeed(t)
		srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
		js, err := jetstream.New(kvtest.Connect(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		storeA := memStoreOn(t, srv, src)
		storeB := memStoreOn(t, srv, src)
		a := kvtest.NewBucket(t, storeA, bucket.Config{Name: name, TTL: time.Second, History: 3})
		b, err := storeB.Bucket(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		handles := []*kv.Bucket{a, b}

		// A's index is built on the empty bucket, before any write.
		if keys, err := a.Keys(ctx, ">"); err != nil || len(keys) != 0 {
			t.Fatalf("empty bucket: Keys = %q, %v", keys, err)
		}
		viewA, viewB := indexView{"A", a}, indexView{"B", b}

		// runPhase runs the writers on keys, and a reader of the Stores that
		// checks the shape of every listing, until each writer has done its
		// operations and until is closed (nil: no wait).
		runPhase := func(phase int, keys []string, until <-chan struct{}) {
			var wg, rg sync.WaitGroup
			done := make(chan struct{})
			listers := []*kv.Bucket{a}
			if phase > 1 {
				listers = append(listers, b) // B's index is built at checkpoint 1
			}
			rg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(phase)<<8|0xff))
				for {
					select {
					case <-done:
						return
					default:
					}
					f := propFilters[r.IntN(len(propFilters))]
					keys, err := listers[r.IntN(len(listers))].Keys(ctx, f)
					if err != nil {
						t.Errorf("phase %d: Keys(%q) while writing: %v", phase, f, err)
						return
					}
					checkListing(t, fmt.Sprintf("phase %d", phase), f, keys, propKeys)
				}
			})
			for w := range writers {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(seed, uint64(phase)<<8|uint64(w)))
					h := handles[w%len(handles)]
					for i := 0; ; i++ {
						if i >= opsPerWriter {
							if until == nil {
								return
							}
							select {
							case <-until:
								return
							default:
							}
						}
						if err := randomWrite(ctx, r, h, keys); err != nil {
							t.Errorf("phase %d writer %d: %v", phase, w, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(done)
			rg.Wait()
			if t.Failed() {
				t.FailNow()
			}
		}

		for phase := range phases {
			runPhase(phase, propKeys, nil)
			views := []indexView{viewA}
			if phase >= 1 {
				views = append(views, viewB) // B's first listing builds its index mid-run
			}
			compareWithStream(ctx, t, js, name, fmt.Sprintf("after phase %d", phase), views...)
		}

		// Expiries while writers run: write half of the keys until the server
		// has expired three of the others (their markers are watched with a
		// plain ordered consumer).
		var half []string
		for i, k := range propKeys {
			if i%2 == 0 {
				half = append(half, k)
			}
		}
		expiring := make(chan struct{})
		var markers atomic.Int64
		full, err := bucket.App.Qualify(name)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := js.OrderedConsumer(ctx, bucket.App.StreamName(name), jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{"$KV." + full + ".>"},
			DeliverPolicy:  jetstream.DeliverNewPolicy,
			HeadersOnly:    true,
		})
		if err != nil {
			t.Fatal(err)
		}
		cc, err := mc.Consume(func(m jetstream.Msg) {
			if m.Headers().Get(hdrMarker) == "MaxAge" && markers.Add(1) == 3 {
				close(expiring)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		stopMarkers := sync.OnceFunc(func() {
			cc.Stop()
			<-cc.Closed()
		})
		t.Cleanup(stopMarkers)
		runPhase(phases, half, expiring)
		stopMarkers()
		st := compareWithStream(ctx, t, js, name, "after expiries during writes", viewA, viewB)
		t.Logf("%d expiry markers arrived while writers ran on %d of %d keys", markers.Load(), len(half), len(propKeys))

		// Keep a few keys alive, through both Stores, while every other key
		// expires: the index must drop exactly the expired ones.
		keep := []string{"a.b", "t.1.2", "u:1"}
		var round int
		kvtest.Eventually(t, 20*time.Second, "every key but the kept ones expires", func() bool {
			round++
			for i, k := range keep {
				if _, err := handles[(round+i)%2].Put(ctx, k, []byte("kept")); err != nil {
					t.Fatal(err)
				}
			}
			return slices.Equal(readStream(ctx, t, js, name).live, keep)
		})
		st = compareWithStream(ctx, t, js, name, "after the expiry of all but the kept keys", viewA, viewB)
		if st.expired == 0 {
			t.Fatal("no expiry marker in the stream: expiry was not exercised")
		}
		t.Logf("%d keys expired while %d were kept alive", st.expired, len(keep))

		// Keys come back after their expiry markers.
		runPhase(phases+1, propKeys, nil)
		compareWithStream(ctx, t, js, name, "after writing over expiry markers", viewA, viewB)

		// A third Store builds its index from a stream of values, tombstones
		// and markers.
		storeC := kvtest.StoreOn(t, srv, src)
		c, err := storeC.Bucket(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		viewC := indexView{"C", c}
		compareWithStream(ctx, t, js, name, "index built at the end", viewA, viewB, viewC)

		// Everything expires.
		kvtest.Eventually(t, 20*time.Second, "every key expires", func() bool {
			return len(readStream(ctx, t, js, name).live) == 0
		})
		compareWithStream(ctx, t, js, name, "after every key expired", viewA, viewB, viewC)

		// Delete the bucket: every Store's listing fails with ErrBucketNotFound.
		if err := storeA.DeleteBucket(ctx, name); err != nil {
			t.Fatal(err)
		}
		for _, v := range []indexView{viewA, viewB, viewC} {
			if keys, err := v.b.Keys(ctx, ">"); !errors.Is(err, kv.ErrBucketNotFound) {
				t.Fatalf("store %s: Keys on the deleted bucket = %q, %v; want ErrBucketNotFound", v.name, keys, err)
			}
		}
		// A new bucket of the same name starts empty in every index, and its
		// indexes follow the new writes only.
		nb := kvtest.NewBucket(t, storeB, bucket.Config{Name: name})
		na, err := storeA.Bucket(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []indexView{{"A", na}, {"B", nb}} {
			if keys, err := v.b.Keys(ctx, ">"); err != nil || len(keys) != 0 {
				t.Fatalf("store %s: Keys on the new bucket = %q, %v; want none", v.name, keys, err)
			}
		}
		if _, err := na.Put(ctx, "a.b", []byte("new")); err != nil {
			t.Fatal(err)
		}
		if _, err := nb.Put(ctx, "u:2", []byte("new")); err != nil {
			t.Fatal(err)
		}
		compareWithStream(ctx, t, js, name, "new bucket of the same name", indexView{"A", na}, indexView{"B", nb})
		if got := readStream(ctx, t, js, name).live; !slices.Equal(got, []string{"a.b", "u:2"}) {
			t.Fatalf("new bucket holds %q, want [a.b u:2]", got)
		}
	})
}

// TestKeysReadYourWritesAcrossConnections proves read-your-writes for
// listings across connections: a key put through one Store is listed by
// the next KeysPage of another Store on another connection, whose index is
// already built and busy with a third client's stream of overwrites; a key
// deleted or purged through the first Store is no longer listed by the
// second. It checks the literal filter of the key, a wildcard filter, and
// every key.
func TestKeysReadYourWritesAcrossConnections(t *testing.T) {
	stateSources(t, func(t *testing.T, src kv.Option) {
		const iterations = 400
		ctx := ctxT(t)
		srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
		storeA := memStoreOn(t, srv, src)
		storeB := memStoreOn(t, srv, src)
		storeN := memStoreOn(t, srv, src)
		a := kvtest.NewBucket(t, storeA, bucket.Config{Name: "ryw"})
		b, err := storeB.Bucket(ctx, "ryw")
		if err != nil {
			t.Fatal(err)
		}
		noise, err := storeN.Bucket(ctx, "ryw")
		if err != nil {
			t.Fatal(err)
		}
		if keys, err := b.Keys(ctx, ">"); err != nil || len(keys) != 0 {
			t.Fatalf("empty bucket: Keys = %q, %v", keys, err)
		}

		// A third client overwrites a few keys all along, so that B's index
		// always has messages to apply and the stream's last message is
		// replaced again and again.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var noiseWrites atomic.Int64
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := noise.Put(ctx, "noise."+strconv.Itoa(i%4), []byte("n")); err != nil {
					t.Errorf("noise: %v", err)
					return
				}
				noiseWrites.Add(1)
			}
		})
		defer func() {
			close(stop)
			wg.Wait()
		}()

		contains := func(keys []string, k string) bool {
			_, found := slices.BinarySearch(keys, k)
			return found
		}
		page := func(filter string) []string {
			t.Helper()
			p, err := b.KeysPage(ctx, filter, "", 0)
			if err != nil {
				t.Fatalf("B: KeysPage(%q): %v", filter, err)
			}
			return p.Keys
		}
		var live []string
		for i := range iterations {
			k := fmt.Sprintf("ryw.%d.k:%d", i%5, i)
			if _, err := a.Put(ctx, k, []byte("v")); err != nil {
				t.Fatal(err)
			}
			if got := page(k); !slices.Equal(got, []string{k}) {
				t.Fatalf("iteration %d: B lists %q for the literal filter of %q, just put through A", i, got, k)
			}
			if got := page(fmt.Sprintf("ryw.%d.*", i%5)); !contains(got, k) {
				t.Fatalf("iteration %d: B's Keys(\"ryw.%d.*\") lacks %q, just put through A", i, i%5, k)
			}
			if got := page(">"); !contains(got, k) {
				t.Fatalf("iteration %d: B's Keys(\">\") lacks %q, just put through A", i, k)
			}
			switch i % 4 {
			case 1:
				err = a.Delete(ctx, k)
			case 2:
				err = a.Purge(ctx, k)
			default:
				live = append(live, k)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := page(k); len(got) != 0 {
				t.Fatalf("iteration %d: B lists %q for %q, just removed through A", i, got, k)
			}
			if got := page(">"); contains(got, k) {
				t.Fatalf("iteration %d: B's Keys(\">\") still lists %q, just removed through A", i, k)
			}
		}
		slices.Sort(live)
		if got := page("ryw.>"); !slices.Equal(got, live) {
			t.Fatalf("B's Keys(\"ryw.>\") = %q\nwant %q", got, live)
		}
		t.Logf("%d iterations against %d concurrent overwrites", iterations, noiseWrites.Load())
	})
}

// TestKeysPagingWhileChanging proves that paging with KeysPage (after = the
// previous page's Next) is consistent while other keys come and go: across
// a full pass every key is returned at most once, in strictly increasing
// order, matches the filter, and every key that exists for the whole pass
// is returned exactly once. 2,000 stable keys are never touched; churn keys
// that sort between every two of them ("p.0001" < "p.0001.c" < "p.0001x" <
// "p.0002") and around their prefix ("p-…", "p/…") are created and removed
// by concurrent writers during the pass. Filters: every key, a literal
// prefix with ">", and a literal prefix with "*".
func TestKeysPagingWhileChanging(t *testing.T) {
	const (
		stableP  = 1600 // p.0000 ... p.1599
		stableQ  = 400  // q.0000 ... q.0399
		passes   = 3
		churners = 3
	)
	ctx := ctxT(t)
	seed := testSeed(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "paging"})

	var stable []string
	for i := range stableP {
		stable = append(stable, fmt.Sprintf("p.%04d", i))
	}
	for i := range stableQ {
		stable = append(stable, fmt.Sprintf("q.%04d", i))
	}
	var fill sync.WaitGroup
	for w := range 8 {
		fill.Go(func() {
			for i := w; i < len(stable); i += 8 {
				if _, err := b.Put(ctx, stable[i], []byte("s")); err != nil {
					t.Errorf("fill: %v", err)
					return
				}
			}
		})
	}
	fill.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.Sort(stable)
	isStable := make(map[string]bool, len(stable))
	for _, k := range stable {
		isStable[k] = true
	}

	churnKey := func(r *rand.Rand) string {
		i := r.IntN(stableP)
		switch r.IntN(6) {
		case 0:
			return fmt.Sprintf("p.%04d.c", i)
		case 1:
			return fmt.Sprintf("p.%04dx", i)
		case 2:
			return fmt.Sprintf("p-%04d", i)
		case 3:
			return fmt.Sprintf("p/%04d", i)
		case 4:
			return fmt.Sprintf("q.%04d.c", i%stableQ)
		default:
			return fmt.Sprintf("p.%04d.c.d", i)
		}
	}
	isChurn := func(k string) bool {
		return !isStable[k] && (strings.HasPrefix(k, "p") || strings.HasPrefix(k, "q."))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churnOps atomic.Int64
	progress := make(chan struct{}, 1) // holds a token once churnOps moved
	for w := range churners {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			var mine []string
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if len(mine) > 20 || len(mine) > 0 && r.IntN(2) == 0 {
					j := r.IntN(len(mine))
					k := mine[j]
					mine = slices.Delete(mine, j, j+1)
					if r.IntN(2) == 0 {
						err = b.Delete(ctx, k)
					} else {
						err = b.Purge(ctx, k)
					}
				} else {
					k := churnKey(r)
					if _, err = b.Create(ctx, k, []byte("c")); errors.Is(err, kv.ErrConflict) {
						err = nil // another churner holds it
					} else {
						mine = append(mine, k)
					}
				}
				if err != nil {
					t.Errorf("churn: %v", err)
					return
				}
				churnOps.Add(1)
				select {
				case progress <- struct{}{}:
				default: // a token is already there
				}
			}
		})
	}
	// awaitChurn returns once n more churn writes have completed, so that
	// the bucket changes between every two pages.
	awaitChurn := func(n int64) {
		t.Helper()
		target := churnOps.Load() + n
		for churnOps.Load() < target {
			select {
			case <-progress:
			case <-ctx.Done():
				t.Fatalf("churn writers stalled: %v", ctx.Err())
			}
		}
	}

	r := rand.New(rand.NewPCG(seed, 0xfeed))
	for _, filter := range []string{">", "p.>", "p.*"} {
		f := bucket.MustParseFilter(filter)
		want := selectKeys(stable, filter)
		for pass := range passes {
			before := churnOps.Load()
			var got []string
			after, pages := "", 0
			for {
				limit := 50 + r.IntN(51)
				p, err := b.KeysPage(ctx, filter, after, limit)
				if err != nil {
					t.Fatalf("KeysPage(%q, %q, %d): %v", filter, after, limit, err)
				}
				pages++
				if len(p.Keys) > limit {
					t.Fatalf("KeysPage(%q, %q, %d) returned %d keys", filter, after, limit, len(p.Keys))
				}
				if p.Next != "" && (len(p.Keys) == 0 || p.Next != p.Keys[len(p.Keys)-1]) {
					t.Fatalf("KeysPage(%q, %q, %d): next %q is not the page's last key (page %q)", filter, after, limit, p.Next, p.Keys)
				}
				for _, k := range p.Keys {
					prev := after
					if n := len(got); n > 0 {
						prev = got[n-1]
					}
					if k <= prev {
						t.Fatalf("filter %q pass %d page %d: %q follows %q: not strictly increasing", filter, pass, pages, k, prev)
					}
					if !f.Match(k) {
						t.Fatalf("filter %q: page lists %q, which does not match", filter, k)
					}
					got = append(got, k)
				}
				if p.Next == "" {
					break
				}
				after = p.Next
				awaitChurn(3)
			}
			var stableGot []string
			churnSeen := 0
			for _, k := range got {
				switch {
				case isChurn(k):
					churnSeen++
				case isStable[k]:
					stableGot = append(stableGot, k)
				default:
					t.Fatalf("filter %q: page lists %q, which nobody wrote", filter, k)
				}
			}
			if !slices.Equal(stableGot, want) {
				missing, extra := diff(want, stableGot)
				t.Fatalf("filter %q pass %d: stable keys differ: missing %q, unexpected %q", filter, pass, missing, extra)
			}
			t.Logf("filter %q pass %d: %d pages, %d stable keys, %d churn keys listed, %d churn writes during the pass",
				filter, pass, pages, len(stableGot), churnSeen, churnOps.Load()-before)
		}
	}
	close(stop)
	wg.Wait()
	if churnOps.Load() == 0 {
		t.Fatal("no churn happened during paging")
	}
}

// diff returns the elements of want missing from got, and those of got
// not in want; both are sorted.
func diff(want, got []string) (missing, extra []string) {
	for _, k := range want {
		if _, ok := slices.BinarySearch(got, k); !ok {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if _, ok := slices.BinarySearch(want, k); !ok {
			extra = append(extra, k)
		}
	}
	return missing, extra
}

// TestKeysAfterBucketRecreatedByAnotherStore proves that a Store whose
// index of a bucket was built before another Store deleted the bucket and
// created a new one of the same name lists the new bucket's keys: neither
// the keys of the deleted bucket nor ErrBucketNotFound.
func TestKeysAfterBucketRecreatedByAnotherStore(t *testing.T) {
	stateSources(t, func(t *testing.T, src kv.Option) {
		ctx := ctxT(t)
		srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
		storeA := memStoreOn(t, srv, src)
		storeB := memStoreOn(t, srv, src)
		a := kvtest.NewBucket(t, storeA, bucket.Config{Name: "again"})
		for i := range 10 {
			if _, err := a.Put(ctx, "old."+strconv.Itoa(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		b, err := storeB.Bucket(ctx, "again")
		if err != nil {
			t.Fatal(err)
		}
		if keys, err := b.Keys(ctx, ">"); err != nil || len(keys) != 10 {
			t.Fatalf("before: B lists %q, %v", keys, err)
		}
		if err := storeA.DeleteBucket(ctx, "again"); err != nil {
			t.Fatal(err)
		}
		a = kvtest.NewBucket(t, storeA, bucket.Config{Name: "again"})
		if _, err := a.Put(ctx, "new", nil); err != nil {
			t.Fatal(err)
		}
		nb, err := storeB.Bucket(ctx, "again")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []struct {
			name string
			b    *kv.Bucket
		}{{"a new handle", nb}, {"the old handle", b}} {
			if keys, err := h.b.Keys(ctx, ">"); err != nil || !slices.Equal(keys, []string{"new"}) {
				t.Errorf("B, %s, after A deleted and re-created the bucket: Keys = %q, %v; want [new]", h.name, keys, err)
			}
		}
	})
}

// TestKeysWaitsForWritesWhenLastMessageRemoved proves that a listing
// reflects every write completed before it even when the stream's last
// message is gone while the index is behind: the listing must wait for the
// newest message that still exists, not give up on waiting. Here the last
// message is purged from the stream by subject, as an administrator could;
// an overwrite of the same key (history 1) removes the last message the
// same way when it lands while the listing waits. The index's consumer is
// paused on the server for a second to hold the index behind.
func TestKeysWaitsForWritesWhenLastMessageRemoved(t *testing.T) {
	stateSources(t, func(t *testing.T, src kv.Option) {
		const name = "removed"
		ctx := ctxT(t)
		srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
		js, err := jetstream.New(kvtest.Connect(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		storeA := memStoreOn(t, srv, src)
		storeB := memStoreOn(t, srv, src)
		a := kvtest.NewBucket(t, storeA, bucket.Config{Name: name})
		if _, err := a.Put(ctx, "x", nil); err != nil {
			t.Fatal(err)
		}
		b, err := storeB.Bucket(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if keys, err := b.Keys(ctx, ">"); err != nil || !slices.Equal(keys, []string{"x"}) {
			t.Fatalf("B lists %q, %v; want [x]", keys, err)
		}

		// B's index is the only consumer of the stream.
		st, err := js.Stream(ctx, bucket.App.StreamName(name))
		if err != nil {
			t.Fatal(err)
		}
		var consumers []string
		names := st.ConsumerNames(ctx)
		for n := range names.Name() {
			consumers = append(consumers, n)
		}
		if err := names.Err(); err != nil || len(consumers) != 1 {
			t.Fatalf("consumers of the stream: %q, %v; want B's index alone", consumers, err)
		}
		if _, err := js.PauseConsumer(ctx, st.CachedInfo().Config.Name, consumers[0], time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}

		if _, err := a.Put(ctx, "y", nil); err != nil {
			t.Fatal(err)
		}
		last, err := a.Put(ctx, "z", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Remove z's message without writing another: the stream's last
		// sequence stays that of z, which no consumer will ever deliver.
		full, err := bucket.App.Qualify(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSubject("$KV."+full+".z")); err != nil {
			t.Fatal(err)
		}
		if info, err := st.Info(ctx); err != nil || info.State.LastSeq != last {
			t.Fatalf("stream after removing z: %+v, %v; want last sequence %d", info, err, last)
		}
		start := time.Now()
		keys, err := b.Keys(ctx, ">")
		if err != nil || !slices.Equal(keys, []string{"x", "y"}) {
			t.Fatalf("B lists %q, %v after %v; want [x y]: y was written before the listing and is still in the stream", keys, err, time.Since(start).Round(time.Millisecond))
		}
	})
}
