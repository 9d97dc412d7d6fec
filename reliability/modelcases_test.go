package reliability_test

import (
	"math"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestModel checks that the model of SPEC section 4 accepts correct
// histories and rejects each kind of violation the linearizability check
// is there to catch.
func TestModel(t *testing.T) {
	const never = math.MaxInt64
	// op builds an operation of client c over [call, ret].
	op := func(c int, call, ret int64, in kvInput, out kvOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Call: call, Return: ret, Input: in, Output: out}
	}
	put := func(v string) kvInput { return kvInput{op: opPut, key: "k", value: v} }
	create := func(v string) kvInput { return kvInput{op: opCreate, key: "k", value: v} }
	update := func(v string, rev uint64) kvInput { return kvInput{op: opUpdate, key: "k", value: v, rev: rev} }
	get := kvInput{op: opGet, key: "k"}
	del := kvInput{op: opDelete, key: "k"}
	ok := func(rev uint64) kvOutput { return kvOutput{kind: outOK, rev: rev} }
	read := func(v string, rev uint64) kvOutput { return kvOutput{kind: outOK, value: v, rev: rev} }
	conflict := kvOutput{kind: outConflict}
	notFound := kvOutput{kind: outNotFound}
	unknown := kvOutput{kind: outUnknown}

	for _, tt := range []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"read your write", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, get, read("a", 1))}, porcupine.Ok},
		{"stale read", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 3, put("b"), ok(2)), op(1, 4, 5, get, read("a", 1))}, porcupine.Illegal},
		{"read of a value never written", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, get, read("x", 1))}, porcupine.Illegal},
		{"wrong revision read", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(5)), op(1, 2, 3, get, read("a", 4))}, porcupine.Illegal},
		{"concurrent read may see either", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 5, put("b"), ok(2)), op(1, 3, 4, get, read("a", 1))}, porcupine.Ok},
		{"read of a deleted key", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 3, del, ok(0)), op(1, 4, 5, get, read("a", 1))}, porcupine.Illegal},
		{"deleted key is 404", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 3, del, ok(0)), op(1, 4, 5, get, notFound)}, porcupine.Ok},
		{"404 for a live key", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, get, notFound)}, porcupine.Illegal},
		{"revision going backwards", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(7)), op(0, 2, 3, put("b"), ok(6))}, porcupine.Illegal},
		{"two creates win", []porcupine.Operation{
			op(0, 0, 10, create("a"), ok(1)), op(1, 0, 10, create("b"), ok(2))}, porcupine.Illegal},
		{"one create wins", []porcupine.Operation{
			op(0, 0, 10, create("a"), ok(1)), op(1, 0, 10, create("b"), conflict)}, porcupine.Ok},
		{"create on a live key", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, create("b"), ok(2))}, porcupine.Illegal},
		{"create after a delete", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 3, del, ok(0)), op(1, 4, 5, create("b"), ok(3))}, porcupine.Ok},
		{"create refused on a deleted key", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 3, del, ok(0)), op(1, 4, 5, create("b"), conflict)}, porcupine.Illegal},
		{"compare-and-swap", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, update("b", 1), ok(2)), op(0, 4, 5, update("c", 1), conflict)}, porcupine.Ok},
		{"lost update", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, update("b", 1), ok(2)), op(0, 4, 5, update("c", 1), ok(3))}, porcupine.Illegal},
		{"refused swap at the current revision", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, 3, update("b", 1), conflict)}, porcupine.Illegal},
		{"swap at a tombstone's revision", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(0, 2, 3, del, ok(0)), op(1, 4, 5, update("b", 2), ok(3))}, porcupine.Illegal},
		{"unknown write that happened", []porcupine.Operation{
			op(0, 0, never, put("a"), unknown), op(1, 2, 3, get, read("a", 9))}, porcupine.Ok},
		{"unknown write that did not happen", []porcupine.Operation{
			op(0, 0, never, put("a"), unknown), op(1, 2, 3, get, notFound)}, porcupine.Ok},
		{"unknown write seen, then unseen", []porcupine.Operation{
			op(0, 0, never, put("a"), unknown), op(1, 2, 3, get, read("a", 9)), op(1, 4, 5, get, notFound)}, porcupine.Illegal},
		{"unknown swap learns its revision", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, never, update("b", 1), unknown),
			op(0, 3, 4, get, read("b", 5)), op(0, 5, 6, update("c", 5), ok(6))}, porcupine.Ok},
		{"unknown swap at a wrong revision cannot happen", []porcupine.Operation{
			op(0, 0, 1, put("a"), ok(1)), op(1, 2, never, update("b", 7), unknown), op(0, 3, 4, get, read("b", 8))}, porcupine.Illegal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := porcupine.CheckOperationsVerbose(kvModel, tt.history, 10*time.Second)
			if got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}
