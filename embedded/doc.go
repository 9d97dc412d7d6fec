// Package embedded runs a NATS server with JetStream inside the calling
// process and hands out connections to it, so that a Go program gets a
// JetStream store, standalone or clustered, without running anything else.
// It wraps nats-server; it knows nothing of buckets or keys, and any NATS
// client or library can use the connections it returns.
//
// # Quick start
//
// The zero Config is useful: a standalone server storing in a fresh
// temporary directory, in GroupCommit mode (a kv.Store on it returns a write
// only once it is on stable storage), reachable only in-process, and
// removed, directory and all, by Shutdown. A program that keeps its data
// names a directory:
//
//	srv, err := embedded.Start(ctx, embedded.Config{DataDir: "./data"})
//	if err != nil {
//		return err
//	}
//	defer srv.Shutdown(context.Background())
//
//	nc, err := srv.Connect() // in-process; no TCP involved
//	if err != nil {
//		return err
//	}
//	defer nc.Close()
//	js, err := jetstream.New(nc)
//
// Start returns once the server accepts connections and JetStream is
// enabled, within milliseconds for an empty store; BenchmarkStartToFirstPut
// measures the time from Start to the first acknowledged KV put.
//
// # Data directory
//
// Config.DataDir is nats-server's JetStream store directory: streams, and
// so KV buckets, live under DataDir/jetstream. Start creates it if needed
// and Shutdown leaves it in place, so a server started again on the same
// directory finds its data. With DataDir empty, Start creates a temporary
// directory (Server.DataDir tells where) and Shutdown removes it. One
// server at a time per directory.
//
// Config.InMemory is for tests and caches: the store directory is a
// temporary one, and callers should create memory-storage streams and
// buckets (jetstream.MemoryStorage), which never touch the disk.
// File-storage ones still work, but in the temporary directory, gone at
// Shutdown.
//
// # Durability
//
// The modes differ in which failures can lose a write the server has
// already acknowledged:
//
//   - GroupCommit, the zero value: a write made through a kv.Store is
//     acknowledged to its caller only once it is on stable storage, and
//     the writes waiting at one moment share one sync of the data dir's
//     file system (syncfs(2)), as etcd's and PostgreSQL's group commit
//     share one log flush. The server runs JetStream's periodic mode; for
//     R1 file streams in the default persist mode JetStream hands each
//     write to the operating system before it acknowledges it, then the
//     kv.Store waits on Server.Sync, which returns once a sync that began
//     after the call has ended. An acknowledged write survives a process
//     crash, a kernel crash and a power loss, where the disk honours
//     flushes. What it does not promise: a watcher or a reader can see a
//     write a moment before it is durable (as with Redis); writes of plain
//     NATS clients are not waited for unless they call Sync; replicated
//     streams rely on the cluster instead. A failed sync fails every later
//     Sync (ErrSyncFailed) until the server restarts, as PostgreSQL
//     treats a failed fsync. Give the data dir a file system of its own,
//     so that a sync does not also flush unrelated files. Once a sync has
//     served two writes or more, the next waits, as PostgreSQL's
//     commit_delay, until as many writes wait as the last one served, or
//     Config.CommitDelay (1 ms unless set) after the last one ended:
//     fewer syncs, each serving more writes, leave more of the machine to
//     the writes. A lone writer never waits.
//   - SyncAlways fsyncs every write before acknowledging it, whichever
//     client made it. An acknowledged write survives a process crash, a
//     kernel crash and a power loss. Each write costs a disk flush of its
//     own. A cluster member, and a system without syncfs(2), runs this mode
//     where GroupCommit was asked for.
//   - SyncPeriodicLosesRecentWrites is JetStream's own default: a write
//     reaches the operating system before it is acknowledged, and is fsynced
//     every Config.SyncInterval (two minutes unless set). It survives a
//     process crash, but a power loss or kernel crash can lose up to the
//     last interval of acknowledged writes. It has to be asked for.
//
// With InMemory, Durability does not apply: the data does not outlive the
// process whatever the mode, so the server syncs periodically and
// Server.Durability reports SyncPeriodicLosesRecentWrites. Durability
// prints and parses as "group-commit", "sync-always" and
// "sync-periodic-loses-recent-writes" (String and ParseDurability;
// MarshalText and UnmarshalText let flag.TextVar and encoding/json use it).
// Server.SyncStats and Config.OnSync tell how many syncs group commit made
// and how many writes each served.
// In a cluster, a write is acknowledged once a majority of the replicas
// have it, each under its own node's Durability.
//
// # In-process and TCP connections
//
// Server.Connect returns a *nats.Conn that talks to the server over an
// in-memory pipe (nats.InProcessServer). It needs no listener, costs no
// port and cannot be reached from outside the process. Its defaults are the
// client name ConnName and no reconnecting: an in-process connection has
// nothing to reconnect to, so when the server shuts down the connection
// closes and calls fail with nats.ErrConnectionClosed instead of waiting.
// Options passed to Connect override these defaults.
//
// Config.ClientListen adds a TCP listener for other processes, such as the
// nats command-line tool: "127.0.0.1:4222", or "127.0.0.1:0" for a free
// port, which Server.ClientURL reports. Without it the server opens no
// client port at all.
//
// A kv.Store on a connection to a server of its own process (in-process or
// TCP) finds two things the server offers it, by the server's ID and
// without importing this package: the group-commit barrier, and, on a
// standalone server, a read of a stream's state that needs no round trip,
// which key listings use to make sure they show every write completed
// before them. That read declines while the account holds more than 16
// streams (nats-server reports a stream's state only along with every
// other of the account), and kv then asks over NATS.
//
// # Clustering
//
// Nodes with the same Config.ClusterName, each with its own
// Config.ClusterListen address and the Routes to the others, form a
// JetStream cluster; JetStream then keeps each replicated stream (KV bucket
// Replicas 3, say) on several nodes and survives the loss of a minority of
// them. Three nodes in one process on loopback, as in this package's
// tests:
//
//	routes := []string{
//		"nats://127.0.0.1:6222",
//		"nats://127.0.0.1:6223",
//		"nats://127.0.0.1:6224",
//	}
//	var nodes []*embedded.Server
//	for i, r := range routes {
//		srv, err := embedded.Start(ctx, embedded.Config{
//			ServerName:    fmt.Sprintf("n%d", i),
//			ClusterName:   "kv",
//			ClusterListen: strings.TrimPrefix(r, "nats://"),
//			Routes:        routes, // a route to the node itself is ignored
//			ClientListen:  "127.0.0.1:0",
//			DataDir:       fmt.Sprintf("./data/n%d", i),
//		})
//		if err != nil {
//			return err
//		}
//		defer srv.Shutdown(context.Background())
//		nodes = append(nodes, srv)
//	}
//	for _, srv := range nodes {
//		if err := srv.WaitJetStream(ctx); err != nil {
//			return err
//		}
//	}
//
// Across machines it is the same with each node in its own process, its
// ClusterListen on a reachable address and Routes naming the machines.
// A cluster member also needs a ClientListen address, because nats-server
// starts routing only once its client listener is up.
//
// Start returns as soon as a node accepts connections, before it has found
// its peers. WaitJetStream waits until it has joined the JetStream meta
// group and is current with the meta leader, which takes a majority of the
// nodes: usually well under a second on loopback, several seconds when an
// election has to be repeated. Even then, for a moment the meta leader may not have heard from
// every peer and refuse a replicated stream with "no suitable peers for
// placement"; retry the create briefly.
//
// A node's ServerName is its identity in the cluster and must be unique.
// If it is empty, Start generates one and, with a DataDir, stores it there
// (file server-name) so that the node keeps it across restarts; remove the
// file only together with the data.
//
// # Logging
//
// nats-server is silent unless Config.Logger is set; then its notices go to
// the logger at Info, warnings at Warn, errors at Error and, when the logger
// is enabled for Debug, debug messages at Debug. A fatal error from
// nats-server never exits the process: it is logged at Error and, during
// Start, makes Start fail with its message.
//
// # Shutdown
//
// Server.Shutdown stops the server, closes every client and route
// connection, and removes a temporary data directory. It waits until the
// server has fully stopped or its context ends, whichever is first; a
// second call waits again, so a bounded first call can be followed by an
// unbounded one. JetStream stops cleanly, flushing its stores, before
// Shutdown returns nil.
//
// # Limits
//
//   - The TCP client and route listeners have no authentication and no TLS.
//     Keep them on loopback or a private network; anyone who reaches them
//     can read and write every stream.
//   - No HTTP monitoring endpoint, websocket, MQTT, leaf node or gateway
//     listener is started. Server.NATS returns the underlying nats-server
//     for monitoring data (Jsz, Varz, Healthz) and other advanced use.
//   - nats-server never installs signal handlers here; the host program
//     decides when to call Shutdown.
//   - Durability is the server's setting for every stream. A stream created
//     with JetStream's asynchronous persist mode (StreamConfig.PersistMode)
//     opts out of it; KV buckets never do.
//   - Config.MaxPayload (1 MiB unless set) bounds each message, and so each
//     KV value with its headers, for every client of the server.
//   - If ctx ends or StartTimeout passes while nats-server is still
//     recovering a large store, Start waits for that recovery step to finish
//     before it stops the server and returns: nats-server cannot be stopped
//     safely halfway through it.
package embedded
