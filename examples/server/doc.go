// Command server is the ironkv server: the HTTP APIs of package httpapi
// (KV, Config and Secrets) and the dashboard, on a NATS JetStream server
// that runs in the same process (or on remote NATS servers), with health
// checks, Prometheus metrics and graceful shutdown.
//
// With no flags it starts a working server: an embedded NATS server with
// JetStream, file storage in ./data, every write on stable storage before it
// is acknowledged (group commit: one sync shared by the writes waiting at
// that moment), and HTTP on 127.0.0.1:9123.
//
//	go run ./examples/server
//
//	curl -X POST localhost:9123/api/v1/kv/buckets -d '{"name":"orders"}'
//	curl -X PUT  localhost:9123/api/v1/kv/buckets/orders/keys/order-1 -d '{"total":42}'
//	curl         localhost:9123/api/v1/kv/buckets/orders/keys/order-1
//
// Secrets need a master key; without one the rest works and the secrets
// routes answer 503 with how to set one:
//
//	IRONKV_MASTER_KEY=$(openssl rand -hex 32) go run ./examples/server
//
// # Routes
//
//	/api/v1/kv/...       the KV API (SPEC section 5; see package httpapi)
//	/api/v1/config/...   the Config API (SPEC section 9): JSON settings per
//	                     environment, in SYS_config_ buckets
//	/api/v1/secrets/...  the Secrets API (SPEC section 10): encrypted secrets
//	                     per environment, in SYS_secrets_ buckets, metadata only
//	/health         liveness: 200 {"status":"ok"} while the process serves HTTP
//	/ready          readiness: 200 {"status":"ready"} when the NATS connection is
//	                up and JetStream answers (on a cluster: once the node has a
//	                JetStream meta leader); else 503 {"status":"unavailable",
//	                "reason":"..."}, also from the moment shutdown begins
//	/metrics        Prometheus metrics
//	/               the dashboard
//
// /health, /ready and /metrics need no API key. They carry no bucket names,
// keys or values: request metrics are labelled by route pattern, such as
// "PUT /buckets/{b}/keys/{key...}" or "GET /config/{name}", never by path.
//
// # Flags and environment
//
// Every flag has an IRONKV_* environment variable. A flag on the command
// line wins over its variable, which wins over the default. An empty
// variable counts as unset. Lists are comma-separated in a variable and in
// a flag, and list flags may also be repeated; a list flag given at all
// replaces its variable whole. Booleans take true/false (or 1/0).
//
//	-listen host:port           IRONKV_LISTEN            default 127.0.0.1:9123
//	    HTTP listen address. Port 0 picks a free port; the "listening" log
//	    line shows the one bound. Beyond loopback it needs -api-key (see
//	    Security).
//	-data dir                   IRONKV_DATA              default ./data
//	    Store directory of the embedded server (JetStream's files).
//	-memory                     IRONKV_MEMORY            default false
//	    Keep everything in memory: buckets are created with memory storage
//	    and nothing survives a restart. Excludes -data.
//	-durability mode            IRONKV_DURABILITY        default group-commit
//	    group-commit acknowledges a write once a sync of the data dir's
//	    file system that began after JetStream stored it has ended; the
//	    writes waiting at that moment share it. An acknowledged write
//	    survives a crash and a power loss. Writes of plain NATS clients
//	    on -nats-listen are not waited for.
//	    sync-always fsyncs every write before acknowledging it, one flush
//	    per write, for every NATS client too.
//	    sync-periodic-loses-recent-writes is JetStream's own default: it
//	    fsyncs every two minutes, so a power loss or kernel crash can lose
//	    the writes of the last two minutes (a process crash loses nothing).
//	-commit-delay duration      IRONKV_COMMIT_DELAY      default 1ms
//	    With group-commit: once a sync has served two writes or more, the
//	    next waits until as many writes wait, or this long after the last
//	    sync ended, as PostgreSQL's commit_delay. Under load that halves
//	    the syncs and leaves their CPU to the writes; a lone writer never
//	    waits. Negative never waits; at most 100ms.
//	-nats urls                  IRONKV_NATS_URLS         default none
//	    Use these NATS servers (nats://host:port, comma-separated; with
//	    credentials, nats://user:password@host:port or nats://token@host:port)
//	    instead of an embedded one. The remote servers' own configuration
//	    decides storage and durability, so -data, -memory, -durability,
//	    -commit-delay, -nats-listen, -server-name and -cluster-* are
//	    refused with -nats.
//	    The server exits if they do not answer at startup, and reconnects
//	    for ever afterwards (/ready says 503 meanwhile).
//	-api-key key                IRONKV_API_KEYS          default none
//	    API keys; clients send "Authorization: Bearer <key>" (the watch
//	    routes also take ?token=<key>). With none, the API is open.
//	-allowed-origin origin      IRONKV_ALLOWED_ORIGINS   default none
//	    Browser origins allowed for CORS and the watch routes, as
//	    scheme://host[:port], scheme://host:* (any port) or *. They replace
//	    the default, which allows the same origin and http://localhost:*,
//	    http://127.0.0.1:* and http://[::1]:*.
//	-max-body bytes             IRONKV_MAX_BODY          default 8388608
//	    Largest request body; a larger one gets 413 unread. A value is also
//	    limited by its bucket's max_value_size and by NATS's maximum
//	    payload (1 MiB by default).
//	-nats-listen host:port      IRONKV_NATS_LISTEN       default none
//	    Open the embedded server to NATS clients over TCP, such as the nats
//	    CLI. Port 0 picks a free port; the "listening" log line shows the
//	    URL as nats_url.
//	-server-name name           IRONKV_SERVER_NAME       default generated
//	    Name of the embedded server, unique within a cluster. A generated
//	    cluster node name is kept in the data directory, so that a
//	    restarted node keeps its identity.
//	-cluster-name name          IRONKV_CLUSTER_NAME      default none
//	-cluster-listen host:port   IRONKV_CLUSTER_LISTEN    default none
//	-cluster-routes urls        IRONKV_CLUSTER_ROUTES    default none
//	    Together, make the embedded server one node of a JetStream cluster:
//	    the cluster's name (the same on every node), this node's route
//	    address, and the route URLs of the nodes (nats://host:port; the
//	    same list on every node is fine, a node ignores its own).
//	-log-level level            IRONKV_LOG_LEVEL         default info
//	    debug, info, warn or error. The embedded NATS server's notices
//	    appear at debug; its warnings and errors at their own level.
//	-log-format format          IRONKV_LOG_FORMAT        default text
//	    text or json (log/slog, on stderr).
//	-insecure-allow-public-without-key
//	                            IRONKV_INSECURE_ALLOW_PUBLIC_WITHOUT_KEY   default false
//	    Allow serving beyond loopback without an API key, and a NATS client
//	    port beyond loopback. Only for a server behind something that
//	    authenticates every request.
//	-shutdown-timeout duration  IRONKV_SHUTDOWN_TIMEOUT  default 30s
//	    How long requests in flight may run after SIGINT or SIGTERM (and
//	    then, again, how long closing NATS may take).
//	(no flag)                   IRONKV_MASTER_KEY        default none
//	    The master keyring of secrets: one key of 64 hex digits
//	    (openssl rand -hex 32), or "id:hex" entries separated by commas, the
//	    active key first (see package secrets). There is deliberately no
//	    flag for it: command lines show in ps and shell history, to every
//	    user of the machine; a -master-key flag is refused with an error
//	    that says so. The environment of a process is readable only by its
//	    user (and root), through /proc.
//	-master-key-file file       IRONKV_MASTER_KEY_FILE   default none
//	    A file holding the keyring, one key per line, the active one first;
//	    '#' comments allowed. Keep it readable by the server's user only
//	    (chmod 600): the server warns at startup when others can read it.
//	    It excludes IRONKV_MASTER_KEY.
//	-insecure-plaintext-secrets IRONKV_INSECURE_PLAINTEXT_SECRETS  default false
//	    Without a master key, store secrets in plaintext, for development:
//	    the server logs a warning that says so at startup, and the
//	    "listening" line shows secrets=PLAINTEXT-INSECURE. With a key,
//	    writes stay encrypted and plaintext records are still read, so that
//	    -reencrypt-secrets can encrypt a development store; drop the flag
//	    afterwards.
//	-reencrypt-secrets          IRONKV_REENCRYPT_SECRETS default false
//	    At startup, after loading the keyring and before listening, move
//	    every secret of every environment to the active key (see Key
//	    rotation), log the report, then serve as usual.
//
// -help prints the flags with their variables. A bad flag or variable is
// reported with what is wrong and how to fix it, and the server exits with
// status 2. It exits with 1 when it cannot start or fails while serving
// (such as an address in use), and with 0 after a graceful shutdown.
//
// # Logging
//
// The log goes to stderr through log/slog. Once serving, the server logs
// one line with the bound HTTP address, and with the NATS client URL when
// the embedded server has one:
//
//	level=INFO msg=listening addr=127.0.0.1:9123 api=http://127.0.0.1:9123/api/v1/kv secrets=encrypted nats=embedded nats_url=nats://127.0.0.1:4222 storage=file data=./data durability=sync-always
//
// secrets is "encrypted", "disabled" (no master key) or
// "PLAINTEXT-INSECURE". Passwords and tokens in -nats URLs are never
// logged, nor are master keys (only their ids) or secret values.
//
// # Secrets and key rotation
//
// The secrets routes serve metadata only; values are encrypted with
// AES-256-GCM under the active master key before they reach NATS. To
// rotate the key (package secrets has the full procedure for several
// servers):
//
//	NEW=$(openssl rand -hex 32)
//	IRONKV_MASTER_KEY="2025:$NEW,2024:$OLD" ./ironkv-server -reencrypt-secrets
//	# the log says: -reencrypt-secrets: every secret is under the active key ... failed=[]
//	IRONKV_MASTER_KEY="2025:$NEW" ./ironkv-server
//
// -reencrypt-secrets runs before the server listens and then the server
// serves, rather than exiting: with the embedded NATS server, whose data
// directory one process holds, a separate one-shot run would need the
// server stopped anyway, so one restart with the flag does it. Re-encrypting
// is idempotent and uses compare-and-swap, so several nodes of a cluster
// may run it at once, and leaving the flag on costs one read of every
// secret per start. Secrets that do not decrypt with the keyring are left
// as they are and listed in an error line, and the server serves anyway;
// a store that does not answer stops the startup (exit status 1).
//
// # Shutdown
//
// On SIGINT or SIGTERM the server stops accepting connections and /ready
// turns 503, lets the requests in flight finish (at most -shutdown-timeout),
// ends the watch streams, closes the API handler and the store, drains the
// NATS connection and stops the embedded server. A write is stored (and,
// with sync-always, fsynced) before it is acknowledged, and nothing is
// stopped before the requests in flight have their answers, so a graceful
// shutdown loses no acknowledged write. A second signal ends the process at
// once.
//
// # Attaching the nats CLI
//
// The embedded server has no TCP port unless asked for one. Give it one on
// loopback, and point the nats CLI at it:
//
//	go run ./examples/server -nats-listen 127.0.0.1:4222
//
//	go install github.com/nats-io/natscli/nats@v0.5.0
//	nats --server nats://127.0.0.1:4222 kv ls
//
// The CLI sees ironkv's buckets with their namespace prefix (bucket
// "orders" is the KV bucket APP_orders, stream KV_APP_orders) and keys in
// their stored form: characters outside [-/_.A-Za-z0-9] are escaped as =XX
// (key "user:1" is stored as "user=3A1"; see package bucket). Writes made
// through the CLI must follow that encoding to be visible through the API.
//
// # A three-node cluster
//
// Three nodes on one machine, each in its own terminal (on three machines,
// use each machine's private address instead of 127.0.0.1 and give every
// node the same -cluster-routes list):
//
//	go build -o ironkv-server ./examples/server
//
//	./ironkv-server -listen 127.0.0.1:9123 -data ./data/n1 -server-name n1 \
//	  -cluster-name ironkv -cluster-listen 127.0.0.1:6222 \
//	  -cluster-routes nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224
//
//	./ironkv-server -listen 127.0.0.1:9124 -data ./data/n2 -server-name n2 \
//	  -cluster-name ironkv -cluster-listen 127.0.0.1:6223 \
//	  -cluster-routes nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224
//
//	./ironkv-server -listen 127.0.0.1:9125 -data ./data/n3 -server-name n3 \
//	  -cluster-name ironkv -cluster-listen 127.0.0.1:6224 \
//	  -cluster-routes nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224
//
// A node logs route errors until its peers are up, and /ready answers 200
// once a majority of the nodes are up and have elected a JetStream meta
// leader. Buckets have one replica unless asked for more; ask for three,
// through any node:
//
//	curl -X POST localhost:9123/api/v1/kv/buckets -d '{"name":"orders","replicas":3}'
//	curl -X PUT  localhost:9123/api/v1/kv/buckets/orders/keys/a -d 'written on n1'
//	curl         localhost:9125/api/v1/kv/buckets/orders/keys/a
//
// Right after the nodes start, creating a replicated bucket can fail until
// the meta leader has heard from its peers; retry it. A cluster node always
// has a NATS client port, because nats-server starts routing only once its
// client listener is up: without -nats-listen it is a free port on
// loopback, shown as nats_url in the "listening" line.
//
// # Security
//
//   - The server listens on loopback by default. Listening anywhere else
//     (any host but localhost, 127.0.0.0/8 and ::1, including an empty host,
//     which means every interface) without an API key is refused with an
//     error, unless -insecure-allow-public-without-key is given.
//   - API keys are compared in constant time. Use long random keys
//     (openssl rand -hex 32). Prefer IRONKV_API_KEYS to -api-key: command
//     lines are visible to other users in ps. To rotate a key, run with
//     both the old and the new key, move the clients, then drop the old.
//   - The server does not terminate TLS. Beyond loopback, put a reverse
//     proxy that does (and that may restrict /metrics) in front of it; an
//     API key sent over plain HTTP can be read on the network.
//   - The NATS client port (-nats-listen) has no authentication: whoever
//     reaches it can read and change every bucket, API keys or not. It is
//     refused beyond loopback unless -insecure-allow-public-without-key is
//     given.
//   - Cluster routes have no authentication or TLS either: keep
//     -cluster-listen on a private network that only the nodes can reach.
//     The server logs a warning when it is not on loopback.
//   - Requests to the KV API reach only the user namespace of buckets
//     (APP_); the system buckets (SYS_config_, SYS_secrets_) cannot be
//     named through it, and only the Config and Secrets APIs reach them.
//   - Secrets are refused (503) until a master key is set; the plaintext
//     development mode must be asked for by a flag named for the risk.
//     Secret values are write-only over HTTP: no route returns one.
//   - Headers must arrive within 10 seconds and a request body within a
//     minute; idle keep-alive connections close after two minutes. There is
//     no overall write timeout, because watch streams last as long as the
//     client stays.
package main
