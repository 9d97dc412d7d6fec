package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(f.Name())
	for _, want := range []string{
		"created user.ada at revision 1",
		"second create: revision conflict",
		"updated user.ada to revision 2",
		"keys: [user.ada user.bob]",
		"watch: put user.ada {\"lang\":\"en\"} (revision 1)",
		"watch: put user.bob {\"lang\":\"de\"} (revision 3)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
