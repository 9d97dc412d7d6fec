package reliability_test

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// The sequential specification of one key, SPEC section 4, for porcupine.
//
// Revisions are stream sequences shared by every key of a bucket, so the
// model cannot predict the revision a write gets. It learns revisions from
// answers instead: a write's answer tells the key's new revision, a read's
// tells the current one. What it checks:
//
//   - a read returns the value of the latest write and, when the model
//     knows it, that write's revision; a deleted or never written key is
//     404;
//   - each write gets a revision above every earlier revision of the key;
//   - If-Match: N succeeds iff the key is live at revision N;
//   - If-None-Match: * succeeds iff the key has no live value;
//   - DELETE always succeeds (it writes a tombstone).
//
// A write whose answer never came (a timeout, a broken connection, a 5xx)
// may or may not have happened: its return time is the end of time, so
// porcupine may place it anywhere after its call, including after every
// other operation, where it changes nothing that was observed. The model
// applies it where porcupine places it, without knowing its revision.

// opKind is an operation of the workload.
type opKind uint8

const (
	opGet    opKind = iota
	opPut           // unconditional PUT
	opUpdate        // PUT If-Match: rev
	opCreate        // PUT If-None-Match: *
	opDelete        // DELETE
)

// outKind is how an operation ended.
type outKind uint8

const (
	outOK       outKind = iota // 200 (204 for DELETE)
	outConflict                // 412
	outNotFound                // GET 404
	outUnknown                 // no answer: the write may or may not have happened
)

// kvInput is an operation as called.
type kvInput struct {
	op    opKind
	key   string
	value string // written value
	rev   uint64 // If-Match revision
}

// kvOutput is an operation's answer.
type kvOutput struct {
	kind  outKind
	value string // read value
	rev   uint64 // revision read or written
}

// keyState is what the model knows of a key. floor is a revision every
// later write of the key exceeds; when exact, the live value is at floor,
// otherwise the key's latest revision (if any) is above floor.
type keyState struct {
	live  bool
	value string
	floor uint64
	exact bool
}

func kvStep(st, in, out any) (bool, any) {
	s, i, o := st.(keyState), in.(kvInput), out.(kvOutput)
	written := func(rev uint64) keyState { return keyState{live: true, value: i.value, floor: rev, exact: true} }
	maybe := keyState{live: true, value: i.value, floor: s.floor}
	// matches reports whether a write that expects revision rev may
	// succeed.
	matches := func(rev uint64) bool { return s.live && (s.exact && s.floor == rev || !s.exact && rev > s.floor) }

	switch i.op {
	case opGet:
		switch o.kind {
		case outNotFound:
			return !s.live, s
		case outOK:
			ok := s.live && s.value == o.value && (s.exact && o.rev == s.floor || !s.exact && o.rev > s.floor)
			return ok, keyState{live: true, value: o.value, floor: o.rev, exact: true}
		}
	case opPut:
		switch o.kind {
		case outOK:
			return o.rev > s.floor, written(o.rev)
		case outUnknown:
			return true, maybe
		}
	case opCreate:
		switch o.kind {
		case outOK:
			return !s.live && o.rev > s.floor, written(o.rev)
		case outConflict:
			return s.live, s
		case outUnknown:
			if s.live {
				return true, s
			}
			return true, maybe
		}
	case opUpdate:
		switch o.kind {
		case outOK:
			return matches(i.rev) && o.rev > i.rev, written(o.rev)
		case outConflict:
			return !s.live || !s.exact || s.floor != i.rev, s
		case outUnknown:
			if !matches(i.rev) {
				return true, s
			}
			maybe.floor = max(s.floor, i.rev)
			return true, maybe
		}
	case opDelete:
		if o.kind == outOK || o.kind == outUnknown {
			return true, keyState{floor: s.floor}
		}
	}
	return false, s
}

// kvModel is the model of a bucket, partitioned by key.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return keyState{} },
	Step: kvStep,
	Hash: func(st any) uint64 {
		s := st.(keyState)
		h := fnv.New64a()
		fmt.Fprintf(h, "%t %t %d %s", s.live, s.exact, s.floor, s.value)
		return h.Sum64()
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(kvInput), out.(kvOutput)
		var call string
		switch i.op {
		case opGet:
			call = "get(" + i.key + ")"
		case opPut:
			call = fmt.Sprintf("put(%s, %s)", i.key, i.value)
		case opUpdate:
			call = fmt.Sprintf("put(%s, %s, If-Match %d)", i.key, i.value, i.rev)
		case opCreate:
			call = fmt.Sprintf("put(%s, %s, If-None-Match *)", i.key, i.value)
		case opDelete:
			call = "delete(" + i.key + ")"
		}
		switch o.kind {
		case outConflict:
			return call + " -> 412"
		case outNotFound:
			return call + " -> 404"
		case outUnknown:
			return call + " -> ?"
		}
		switch i.op {
		case opGet:
			return fmt.Sprintf("%s -> %s@%d", call, o.value, o.rev)
		case opDelete:
			return call + " -> 204"
		}
		return fmt.Sprintf("%s -> @%d", call, o.rev)
	},
	DescribeState: func(st any) string {
		s := st.(keyState)
		rev := fmt.Sprintf("@%d", s.floor)
		if !s.exact {
			rev = fmt.Sprintf("@>%d", s.floor)
		}
		if !s.live {
			return "absent " + rev
		}
		return s.value + " " + rev
	},
}
