package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ironkv/ironkv/config"
)

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		doc, patch, want string
	}{
		{``, `{}`, `{}`},
		{``, `{"a":null,"b":1}`, `{"b":1}`},
		{`{}`, `{"a":1}`, `{"a":1}`},
		{`{"a":1,"b":2}`, `{"a":3}`, `{"a":3,"b":2}`},
		{`{"a":1,"b":2}`, `{"c":3,"a":null}`, `{"b":2,"c":3}`},
		{`{"a":{"x":1,"y":2}}`, `{"a":{"x":3}}`, `{"a":{"x":3}}`},
		{`{"a":[1,2]}`, `{"a":[]}`, `{"a":[]}`},
		{`{"n":1}`, `{"big":1e400,"exact":0.1000000000000000000001}`, `{"n":1,"big":1e400,"exact":0.1000000000000000000001}`},
		{`{"a":1}`, `{"a":{"b":null}}`, `{"a":{"b":null}}`},
		{`{ "a" : 1 , "<b>" : "x" }`, `{}`, `{"a":1,"<b>":"x"}`},
	} {
		got, err := config.Merge([]byte(tc.doc), []byte(tc.patch))
		if err != nil || string(got) != tc.want {
			t.Errorf("Merge(%s, %s) = %s, %v; want %s", tc.doc, tc.patch, got, err, tc.want)
		}
	}
	for _, tc := range [][2]string{{`[]`, `{}`}, {`{}`, `[]`}, {`{}`, ``}, {`{"a":1,"a":1}`, `{}`}, {`{}`, `{"a":1,"a":1}`}, {`nul`, `{}`}} {
		if _, err := config.Merge([]byte(tc[0]), []byte(tc[1])); !errors.Is(err, config.ErrNotObject) {
			t.Errorf("Merge(%s, %s): %v, want ErrNotObject", tc[0], tc[1], err)
		}
	}
}

// FuzzMerge checks Merge against its definition: it never panics; when
// both inputs are objects the result is an object that holds every member
// of the patch that is not null, with the patch's value, and every other
// member of the document with its value, and nothing else.
func FuzzMerge(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1,"b":{"c":2}}`, `{"a":null,"b":3,"d":[1]}`},
		{``, `{"x":null}`},
		{`{"a":"\u00e9","b":1.50}`, `{"b":2}`},
		{`{}`, `{"a":{"b":null}}`},
		{`{"a":1}`, `[1]`},
		{`{"a":1,"a":2}`, `{}`},
		{"{\"a\":\"\xff\"}", `{}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		got, err := config.Merge(doc, patch)
		if err != nil {
			if !errors.Is(err, config.ErrNotObject) {
				t.Fatalf("error %v does not wrap ErrNotObject", err)
			}
			return
		}
		var d, p, r map[string]json.RawMessage
		if len(doc) > 0 {
			if err := json.Unmarshal(doc, &d); err != nil || d == nil {
				t.Fatalf("Merge accepted document %q: %v", doc, err)
			}
		}
		if err := json.Unmarshal(patch, &p); err != nil || p == nil {
			t.Fatalf("Merge accepted patch %q: %v", patch, err)
		}
		if err := json.Unmarshal(got, &r); err != nil || r == nil {
			t.Fatalf("result %q is not an object: %v", got, err)
		}
		same := func(a, b json.RawMessage) bool {
			var ca, cb bytes.Buffer
			return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
		}
		for k, v := range p {
			rv, ok := r[k]
			if string(v) == "null" || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				if ok {
					t.Fatalf("member %q set to null in the patch is still there: %s", k, got)
				}
				continue
			}
			if !ok || !same(rv, v) {
				t.Fatalf("member %q of the patch: got %s, want %s", k, rv, v)
			}
		}
		for k, v := range d {
			if _, inPatch := p[k]; inPatch {
				continue
			}
			if rv, ok := r[k]; !ok || !same(rv, v) {
				t.Fatalf("member %q of the document: got %s, want %s", k, rv, v)
			}
		}
		for k := range r {
			_, inDoc := d[k]
			_, inPatch := p[k]
			if !inDoc && !inPatch {
				t.Fatalf("member %q comes from nowhere: %s", k, got)
			}
		}
	})
}
