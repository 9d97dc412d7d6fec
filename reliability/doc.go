// Package reliability holds ironkv's reliability checks: tests that drive
// the server binary (examples/server, built once per test run) over HTTP on
// loopback, inject faults, and check what they observed against the
// promises of SPEC.md. RELIABILITY.md at the root of the repository lists
// the checks, their last figures and what is not promised.
//
// # Running
//
// The checks are ordinary tests, sized for CI by default (about a minute
// and a half under -race on two cores):
//
//	go test -race ./reliability
//
// IRONKV_LONG=1 runs them longer and with more faults (several minutes):
//
//	IRONKV_LONG=1 go test -v -timeout 40m ./reliability
//
// Each check prints its figures with -v: operations checked, faults
// injected, writes acknowledged and lost, the linearizability checker's
// result and time. One check at a time:
//
//	go test -v -run TestLinearizability ./reliability
//	go test -v -run 'TestCreateRace|TestCASChain|TestCreateWhileDeleting' ./reliability
//	go test -v -run TestCrashSafety ./reliability
//	go test -v -run TestCluster ./reliability
//	go test -v -run 'TestHostileInput|TestEmptyConditionalHeaders' ./reliability
//	go test -v -run TestWatchUnderFaults ./reliability
//
// The fuzz targets run with the tests on their seeds, and as fuzzers one
// at a time (CI runs each for 30 s):
//
//	go test -run '^$' -fuzz '^FuzzConditionalHeaders$' -fuzztime 30s ./reliability
//	go test -run '^$' -fuzz '^FuzzWebSocketFrames$' -fuzztime 30s ./reliability
//
// # The checks
//
//   - TestLinearizability: 16 clients, 10 hot keys, GET, PUT, PUT If-Match,
//     PUT If-None-Match: * and DELETE with unique values; the history is
//     checked with porcupine against a per-key model of SPEC section 4
//     (model_test.go, whose own cases are TestModel), revisions are checked
//     to follow real time across keys, and every acknowledged write and
//     every value read is checked against the bucket's stream, read over
//     NATS by a consumer that follows the run, and against the History API.
//     A write whose answer never came may have happened at any time after
//     it was sent, and is checked so.
//   - TestCreateRace: 100 concurrent creates of one key, 200 times, on
//     fresh, deleted and purged keys: one winner, 99 412s carrying its
//     revision.
//   - TestCASChain: 32 clients looping GET then If-Match PUT: the successful
//     swaps form one chain, so their number is the number of revisions the
//     key advanced by.
//   - TestCreateWhileDeleting: creates of a key that only ever has the
//     value its creator gives it, racing deletes: every create must win.
//   - TestCrashSafety: writers against a server killed with SIGKILL at
//     random moments and restarted on its data, in each durability mode
//     (group commit, sync always, periodic):
//     no acknowledged write lost, no revision going backwards, the first
//     write acknowledged within 5 s of each restart.
//   - TestCluster: three server binaries as one JetStream cluster, a bucket
//     of three replicas, writers on every node; the stream leader is killed
//     and restarted 5 s later: no acknowledged write lost, writes accepted
//     again within 15 s, the replicas equal within 30 s.
//   - TestHostileInput: namespace escapes through bucket names, keys and
//     filters, checked on the NATS server to leave every SYS_ stream as it
//     was; slow clients cut by the header timeout; a WebSocket message
//     over the read limit closes with 1009; oversized bodies get 413.
//     FuzzConditionalHeaders and FuzzWebSocketFrames fuzz the conditional
//     headers and the frames a WebSocket client sends.
//   - TestWatchUnderFaults: 100 watchers with mixed filters, over WebSocket
//     and SSE, while the server is killed and restarted; each resumes from
//     its last revision and must end with exactly its filter's changes of
//     the stream, in order.
//
// # Artifacts
//
// When TestLinearizability fails, it writes porcupine's visualization of
// the history (an HTML file) to $IRONKV_ARTIFACTS, or to a new temporary
// directory that is kept, and logs the path; with IRONKV_ARTIFACTS set it
// writes it after every run. It also logs, for each key that could not be
// linearized, the end of the longest linearization found and the
// operations that could not follow it.
//
// # Bugs found
//
// The checks found two bugs, both fixed: a create racing a delete of the
// same key was refused although the key had no live value
// (TestCreateWhileDeleting), and an empty If-Match or If-None-Match header
// made a write unconditional (TestEmptyConditionalHeaders). The tests stay
// as regression tests.
package reliability
