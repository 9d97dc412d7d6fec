package kv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/internal/inproc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream metadata keys that ironkv writes on the buckets it creates.
const (
	// metaMaxValueSize holds the user's max_value_size; the stream's
	// MaxMsgSize is larger by headerAllowance, because JetStream counts the
	// headers of conditional writes and markers against it.
	metaMaxValueSize = "ironkv_max_value_size"
	// metaCreateID makes every creation unique, so that creating a bucket
	// that exists with an identical config fails instead of succeeding
	// silently as JetStream's idempotent stream create would.
	metaCreateID = "ironkv_create_id"
)

// headerAllowance is the room kept for the NATS headers of a write (the
// expected-revision header of Create and Update, the operation header of a
// tombstone). A value may use the rest of the bucket's or server's limit.
const headerAllowance = 256

// Store is a handle on one JetStream domain, restricted to one namespace of
// buckets (bucket.App unless WithNamespace says otherwise). It is safe for
// concurrent use.
type Store struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	ns     bucket.Namespace
	opts   options
	owned  bool
	syncer Syncer // the group-commit barrier, nil without one
	// replies takes the answers to the Store's writes and listing checks.
	replies *replies
	// local reads a stream's state from a standalone embedded server in
	// this process without a round trip (see inproc.Server); nil otherwise.
	local func(stream string) (inproc.StreamState, bool)

	closed atomic.Bool
	// deleted counts the buckets this Store deleted: revisions that
	// handles remember (liveRevs) hold only while it stays the same.
	deleted atomic.Uint64

	mu       sync.Mutex
	indexes  map[string]*keyIndex             // by stream name
	watchers map[string]map[*Watcher]struct{} // by stream name
	bg       sync.WaitGroup                   // index releases and stops in flight
}

// track adds (or removes) a running Watcher, so that DeleteBucket can end
// the watchers of the bucket at once.
func (s *Store) track(stream string, w *Watcher, running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.watchers[stream]
	if running {
		if set == nil {
			set = map[*Watcher]struct{}{}
			s.watchers[stream] = set
		}
		set[w] = struct{}{}
		return
	}
	delete(set, w)
	if len(set) == 0 {
		delete(s.watchers, stream)
	}
}

type options struct {
	ns             bucket.Namespace
	defaultStorage bucket.Storage
	watchBuffer    int
	natsOpts       []nats.Option
	syncer         Syncer
	syncerSet      bool
	indexIdle      time.Duration
	indexMemory    int64
	logger         *slog.Logger
	noLocal        bool // ask over NATS for stream states, as on a remote server
}

// Option configures a Store.
type Option func(*options)

// WithNamespace chooses the namespace of buckets the Store works in. The
// default is bucket.App. Only system code (config, secrets) uses the SYS_
// namespaces.
func WithNamespace(ns bucket.Namespace) Option { return func(o *options) { o.ns = ns } }

// WithDefaultStorage chooses the storage of buckets whose Config leaves
// Storage empty. The default is bucket.FileStorage; a store on an
// embedded server that runs in memory should pass bucket.MemoryStorage.
func WithDefaultStorage(s bucket.Storage) Option { return func(o *options) { o.defaultStorage = s } }

// WithWatchBuffer sets the default number of events a Watcher buffers before
// it ends with ErrSlowConsumer. The default is 1024.
func WithWatchBuffer(n int) Option { return func(o *options) { o.watchBuffer = n } }

// Syncer is a group-commit barrier, such as *embedded.Server: Sync returns
// nil once everything the NATS server acknowledged before the call is on
// stable storage.
type Syncer interface {
	Sync(ctx context.Context) error
}

// WithGroupCommit makes every write (Put, Create, Update, Delete, Purge, and
// bucket creation, update and deletion) wait, after JetStream acknowledged
// it, until s.Sync returns, for the buckets that need it: R1 file-storage
// buckets. Replicated buckets rely on the cluster's Raft log and memory
// buckets have nothing to sync; both skip the wait. A bucket whose stream
// uses JetStream's async persist mode is refused with ErrInvalidConfig,
// because its acknowledgement may come before the write reaches the
// operating system, which no later sync can repair.
//
// New applies this option by itself when its connection leads to an
// embedded server of this process that runs in GroupCommit mode; pass
// WithGroupCommit(nil) to turn that off.
//
// A write whose acknowledgement came but whose sync failed returns an
// error wrapping ErrUnavailable that says so (the write happened and is
// visible, but its durability is unconfirmed); when ctx ends during the
// wait, the error wraps ctx.Err(). Put, Create and Update still return
// the revision in both cases.
func WithGroupCommit(s Syncer) Option {
	return func(o *options) { o.syncer, o.syncerSet = s, true }
}

// Defaults of the key index options.
const (
	// DefaultKeyIndexIdle is how long a key index may go without a listing
	// before the Store releases it.
	DefaultKeyIndexIdle = 10 * time.Minute
	// DefaultKeyIndexMemory bounds the estimated memory of a Store's key
	// indexes together: 512 MiB, some five million keys.
	DefaultKeyIndexMemory = 512 << 20
)

// WithKeyIndexIdle releases a bucket's key index once no listing has used
// it for d (DefaultKeyIndexIdle unless set); the next listing builds it
// again. Zero or less keeps indexes until the bucket is deleted or the
// Store closed.
func WithKeyIndexIdle(d time.Duration) Option { return func(o *options) { o.indexIdle = d } }

// WithKeyIndexMemory bounds the estimated memory of all key indexes of the
// Store (DefaultKeyIndexMemory unless set): when a listing leaves them above
// it, the least recently used other indexes are released. One index is
// always kept, whatever its size, so a bucket larger than the bound can
// still be listed. Zero or less means no bound. Store.KeyIndexes reports
// the estimates.
func WithKeyIndexMemory(bytes int64) Option { return func(o *options) { o.indexMemory = bytes } }

// WithLogger gives the Store a logger for what it does in the background:
// key index builds (progress every two seconds at Info level for buckets of
// 10,000 keys or more, at Debug level otherwise) and releases. The default
// discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithNATSOptions passes options to nats.Connect when Connect dials. New
// ignores them.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) { o.natsOpts = append(o.natsOpts, opts...) }
}

// New returns a Store on a connection the caller owns: Close leaves it open.
// It returns ErrInvalidConfig for an unknown namespace or a bad option and
// ErrClosed when nc is closed. It subscribes to an inbox of its own for the
// answers to its writes (Close unsubscribes) but waits for nothing from the
// server; the first operation finds out whether JetStream is there.
func New(nc *nats.Conn, opts ...Option) (*Store, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil *nats.Conn", ErrInvalidConfig)
	}
	if nc.IsClosed() {
		return nil, fmt.Errorf("kv.New: %w: the NATS connection is closed", ErrClosed)
	}
	o := options{ns: bucket.App, defaultStorage: bucket.FileStorage, watchBuffer: 1024,
		indexIdle: DefaultKeyIndexIdle, indexMemory: DefaultKeyIndexMemory}
	for _, opt := range opts {
		opt(&o)
	}
	switch o.ns {
	case bucket.App, bucket.SysConfig, bucket.SysSecrets:
	default:
		return nil, fmt.Errorf("%w: unknown namespace %q; use bucket.App, bucket.SysConfig or bucket.SysSecrets", ErrInvalidConfig, o.ns)
	}
	switch o.defaultStorage {
	case bucket.FileStorage, bucket.MemoryStorage:
	default:
		return nil, fmt.Errorf("%w: unknown default storage %q; use %q or %q", ErrInvalidConfig, o.defaultStorage, bucket.FileStorage, bucket.MemoryStorage)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.watchBuffer < 1 {
		return nil, fmt.Errorf("%w: watch buffer %d: must be at least 1", ErrInvalidConfig, o.watchBuffer)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, classify(err)
	}
	syncer := o.syncer
	var local func(string) (inproc.StreamState, bool)
	if offer := inproc.Lookup(nc.ConnectedServerId()); offer != nil {
		if !o.syncerSet && offer.Syncer != nil {
			syncer = offer.Syncer
		}
		if !o.noLocal {
			local = offer.StreamState
		}
	}
	rp, err := newReplies(nc)
	if err != nil {
		return nil, classify(err)
	}
	return &Store{nc: nc, replies: rp, js: js, ns: o.ns, opts: o, syncer: syncer, local: local, indexes: map[string]*keyIndex{}, watchers: map[string]map[*Watcher]struct{}{}}, nil
}

// Connect dials NATS at urls (comma-separated, as nats.Connect takes them),
// checks that JetStream answers, and returns a Store that owns the
// connection: Close closes it. It returns ErrUnavailable when no server or
// no JetStream answers before ctx ends.
func Connect(ctx context.Context, urls string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	natsOpts := append([]nats.Option{nats.Name("ironkv"), nats.MaxReconnects(-1)}, o.natsOpts...)
	if dl, ok := ctx.Deadline(); ok {
		natsOpts = append(natsOpts, nats.Timeout(time.Until(dl)))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(urls, natsOpts...)
	if err != nil {
		return nil, fmt.Errorf("kv.Connect %s: %w", urls, classify(err))
	}
	s, err := New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.owned = true
	if _, err := s.js.AccountInfo(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("kv.Connect %s: JetStream did not answer: %w", urls, classify(err))
	}
	return s, nil
}

// GroupCommit reports whether the Store waits for a group-commit barrier
// after writes (see WithGroupCommit).
func (s *Store) GroupCommit() bool { return s.syncer != nil }

// bucketSyncer returns the barrier a bucket's writes wait on: the Store's,
// for an R1 file-storage stream; nil otherwise. It refuses a stream in async
// persist mode under group commit.
func (s *Store) bucketSyncer(name string, c jetstream.StreamConfig) (Syncer, error) {
	if s.syncer == nil || c.Storage != jetstream.FileStorage || c.Replicas > 1 {
		return nil, nil
	}
	if c.PersistMode != jetstream.DefaultPersistMode {
		return nil, fmt.Errorf("bucket %q: %w: its stream %s uses JetStream's %s persist mode, which acknowledges writes before they reach the operating system, so group commit cannot make them durable; set the stream's persist mode back to default (nats stream edit), or open the Store with WithGroupCommit(nil) and accept that risk", name, ErrInvalidConfig, c.Name, c.PersistMode)
	}
	return s.syncer, nil
}

// CheckDurability binds every bucket of the Store's namespace and returns
// the buckets that group commit cannot cover (see WithGroupCommit), joined
// into one error; nil when there are none or the Store has no barrier. A
// server calls it at startup so that it refuses to run, rather than fail
// each write later.
func (s *Store) CheckDurability(ctx context.Context) error {
	if err := s.check(); err != nil || s.syncer == nil {
		return err
	}
	var errs []error
	l := s.js.ListStreams(ctx, jetstream.WithStreamListSubject("$KV.>"))
	for si := range l.Info() {
		full, ok := strings.CutPrefix(si.Config.Name, "KV_")
		if !ok {
			continue
		}
		if name, ok := s.ns.Strip(full); ok {
			if _, err := s.bucketSyncer(name, si.Config); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := l.Err(); err != nil {
		return fmt.Errorf("check buckets: %w", classify(err))
	}
	return errors.Join(errs...)
}

// sync waits on the barrier after a change of bucket config, which
// JetStream writes to the store's files too.
func (s *Store) sync(ctx context.Context, op, name string) error {
	return waitDurable(ctx, s.syncer, func() string { return fmt.Sprintf("%s %q", op, name) })
}

// waitDurable waits on syncer, if any, after an acknowledged change. The
// change has happened whatever it returns; an error says only that its
// durability is unconfirmed, and names the change with what().
func waitDurable(ctx context.Context, syncer Syncer, what func() string) error {
	if syncer == nil {
		return nil
	}
	err := syncer.Sync(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: done, but not yet confirmed on stable storage: %w", what(), err)
	}
	return fmt.Errorf("%s: %w: done, but not confirmed on stable storage: %v", what(), ErrUnavailable, err)
}

// Namespace returns the namespace the Store works in.
func (s *Store) Namespace() bucket.Namespace { return s.ns }

// Conn returns the NATS connection under the Store.
func (s *Store) Conn() *nats.Conn { return s.nc }

// Close stops the Store's background work (key indexes) and, when the Store
// owns its connection (Connect), closes it. Calls after Close return
// ErrClosed, and so do writes still waiting for JetStream's answer: they
// may or may not have been stored. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	idx := s.indexes
	s.indexes = map[string]*keyIndex{}
	s.mu.Unlock()
	for _, ix := range idx {
		s.stopIndex(ix, ErrClosed)
	}
	s.bg.Wait()
	s.replies.close(ErrClosed)
	if s.owned {
		s.nc.Close()
	}
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// streamConfig translates a validated Config into the KV config of nats.go.
func (s *Store) streamConfig(full string, cfg bucket.Config) jetstream.KeyValueConfig {
	kc := jetstream.KeyValueConfig{
		Bucket:      full,
		Description: cfg.Description,
		History:     uint8(cfg.History),
		TTL:         cfg.TTL,
		MaxBytes:    cfg.MaxBytes,
		Replicas:    cfg.Replicas,
		Metadata:    map[string]string{},
	}
	if kc.MaxBytes == 0 {
		kc.MaxBytes = -1
	}
	if cfg.MaxValueSize > 0 {
		kc.MaxValueSize = int32(min(int64(cfg.MaxValueSize)+headerAllowance, 1<<31-1))
		kc.Metadata[metaMaxValueSize] = strconv.FormatInt(int64(cfg.MaxValueSize), 10)
	}
	if cfg.Storage == bucket.MemoryStorage {
		kc.Storage = jetstream.MemoryStorage
	}
	if cfg.TTL > 0 {
		// Expiries leave a marker that watchers and the key index see;
		// without it an expired key would vanish silently.
		kc.LimitMarkerTTL = cfg.TTL
	}
	return kc
}

func (s *Store) config(cfg bucket.Config) (bucket.Config, string, error) {
	if cfg.Storage == "" {
		cfg.Storage = s.opts.defaultStorage
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, "", err
	}
	full, err := s.ns.Qualify(cfg.Name)
	return cfg, full, err
}

// CreateBucket creates a bucket and returns its handle. It returns
// ErrInvalidBucketName or ErrInvalidConfig for a bad config, ErrBucketExists
// when the name is taken (whatever the existing config), and
// ErrUnavailable when JetStream does not answer.
func (s *Store) CreateBucket(ctx context.Context, cfg bucket.Config) (*Bucket, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	cfg, full, err := s.config(cfg)
	if err != nil {
		return nil, err
	}
	kc := s.streamConfig(full, cfg)
	var id [12]byte
	_, _ = rand.Read(id[:])
	kc.Metadata[metaCreateID] = hex.EncodeToString(id[:])
	if _, err := s.js.CreateKeyValue(ctx, kc); err != nil {
		return nil, fmt.Errorf("create bucket %q: %w", cfg.Name, classify(err))
	}
	if err := s.sync(ctx, "create bucket", cfg.Name); err != nil {
		return nil, err
	}
	return s.Bucket(ctx, cfg.Name)
}

// UpdateBucket changes the config of an existing bucket: description, TTL,
// sizes, history and replicas. It returns ErrBucketNotFound when the bucket
// does not exist and ErrInvalidConfig for a bad config or a change JetStream
// cannot make (storage).
func (s *Store) UpdateBucket(ctx context.Context, cfg bucket.Config) (*Bucket, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	cfg, full, err := s.config(cfg)
	if err != nil {
		return nil, err
	}
	st, err := s.js.Stream(ctx, s.ns.StreamName(cfg.Name))
	if err != nil {
		return nil, fmt.Errorf("update bucket %q: %w", cfg.Name, classify(err))
	}
	kc := s.streamConfig(full, cfg)
	old := st.CachedInfo().Config
	if id := old.Metadata[metaCreateID]; id != "" {
		kc.Metadata[metaCreateID] = id
	}
	if kc.LimitMarkerTTL == 0 && old.SubjectDeleteMarkerTTL > 0 {
		// JetStream cannot turn message TTLs off again; the markers are
		// harmless without a TTL.
		kc.LimitMarkerTTL = old.SubjectDeleteMarkerTTL
	}
	if _, err := s.js.UpdateKeyValue(ctx, kc); err != nil {
		return nil, fmt.Errorf("update bucket %q: %w", cfg.Name, classify(err))
	}
	if err := s.sync(ctx, "update bucket", cfg.Name); err != nil {
		return nil, err
	}
	return s.Bucket(ctx, cfg.Name)
}

// Bucket returns a handle on an existing bucket. It returns
// ErrInvalidBucketName for a bad name and ErrBucketNotFound when the bucket
// does not exist. Handles are cheap to keep and safe for concurrent use;
// keep one rather than calling Bucket per operation (each call asks the
// server).
func (s *Store) Bucket(ctx context.Context, name string) (*Bucket, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	full, err := s.ns.Qualify(name)
	if err != nil {
		return nil, err
	}
	st, err := s.js.Stream(ctx, s.ns.StreamName(name))
	if err != nil {
		return nil, fmt.Errorf("bucket %q: %w", name, classify(err))
	}
	kvh, err := s.js.KeyValue(ctx, full)
	if err != nil {
		return nil, fmt.Errorf("bucket %q: %w", name, classify(err))
	}
	return newBucket(s, name, full, st, kvh)
}

// BucketInfo returns the config and state of a bucket. It returns
// ErrInvalidBucketName for a bad name and ErrBucketNotFound when the bucket
// does not exist.
func (s *Store) BucketInfo(ctx context.Context, name string) (bucket.Info, error) {
	if err := s.check(); err != nil {
		return bucket.Info{}, err
	}
	if err := bucket.ValidateName(name); err != nil {
		return bucket.Info{}, err
	}
	st, err := s.js.Stream(ctx, s.ns.StreamName(name))
	if err != nil {
		return bucket.Info{}, fmt.Errorf("bucket %q: %w", name, classify(err))
	}
	info := infoFromStream(name, st.CachedInfo())
	info.Keys = s.liveKeys(ctx, st.CachedInfo())
	return info, nil
}

// Buckets lists the buckets of the Store's namespace, sorted by name, with
// the prefix stripped. Buckets of other namespaces are never listed. It
// returns ErrUnavailable when JetStream does not answer.
func (s *Store) Buckets(ctx context.Context) ([]bucket.Info, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	infos := []bucket.Info{}
	l := s.js.ListStreams(ctx, jetstream.WithStreamListSubject("$KV.>"))
	for si := range l.Info() {
		full, ok := strings.CutPrefix(si.Config.Name, "KV_")
		if !ok {
			continue
		}
		// Strip admits only valid names of this namespace.
		name, ok := s.ns.Strip(full)
		if !ok {
			continue
		}
		info := infoFromStream(name, si)
		info.Keys = s.liveKeys(ctx, si)
		infos = append(infos, info)
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", classify(err))
	}
	slices.SortFunc(infos, func(a, b bucket.Info) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// DeleteBucket deletes a bucket with all its keys and history. Watchers of
// the bucket end with ErrBucketNotFound. It returns ErrInvalidBucketName for
// a bad name and ErrBucketNotFound when the bucket does not exist.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	if err := s.check(); err != nil {
		return err
	}
	full, err := s.ns.Qualify(name)
	if err != nil {
		return err
	}
	// Stop this Store's key index first: its consumer stops at once while
	// the stream exists, and would wait out retries once it is gone.
	s.dropIndex(s.ns.StreamName(name), ErrBucketNotFound)
	s.deleted.Add(1)
	if err := s.js.DeleteKeyValue(ctx, full); err != nil {
		return fmt.Errorf("delete bucket %q: %w", name, classify(err))
	}
	// This Store's watchers of the bucket end now; those of other
	// processes find out from their consumers.
	s.mu.Lock()
	var ws []*Watcher
	for w := range s.watchers[s.ns.StreamName(name)] {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.fail(ErrBucketNotFound)
	}
	return s.sync(ctx, "delete bucket", name)
}

// infoFromStream reads a bucket's Info from its stream.
func infoFromStream(name string, si *jetstream.StreamInfo) bucket.Info {
	c := si.Config
	cfg := bucket.Config{
		Name:        name,
		Description: c.Description,
		TTL:         c.MaxAge,
		History:     int(c.MaxMsgsPerSubject),
		Replicas:    c.Replicas,
		Storage:     bucket.FileStorage,
	}
	if c.MaxBytes > 0 {
		cfg.MaxBytes = c.MaxBytes
	}
	if c.Storage == jetstream.MemoryStorage {
		cfg.Storage = bucket.MemoryStorage
	}
	cfg.MaxValueSize = maxValueSize(c)
	return bucket.Info{Config: cfg, Values: si.State.Msgs, Bytes: si.State.Bytes, CreatedAt: si.Created.UTC()}
}

// maxValueSize is the user's max_value_size of a bucket: the one ironkv
// recorded, or the stream's MaxMsgSize for buckets made by other tools.
func maxValueSize(c jetstream.StreamConfig) int32 {
	if v, err := strconv.ParseInt(c.Metadata[metaMaxValueSize], 10, 32); err == nil && v > 0 {
		return int32(v)
	}
	if c.MaxMsgSize > 0 {
		return c.MaxMsgSize
	}
	return 0
}

// errNoStream reports whether err says the stream is not there.
func errNoStream(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, nats.ErrStreamNotFound) || errors.Is(err, ErrBucketNotFound)
}
