package watch

import (
	"strings"

	"github.com/ironkv/ironkv/bucket"
)

// index finds the subscriptions whose filter matches a key without looking
// at the others: exact filters in a map, wildcard filters in a token tree,
// as NATS does for subjects.
type index struct {
	exact map[string]map[*Subscription]struct{}
	root  node
	n     int
}

type node struct {
	children map[string]*node
	star     *node                      // a "*" token
	here     map[*Subscription]struct{} // filters that end at this node
	rest     map[*Subscription]struct{} // filters with a final ">" here
}

func newIndex() *index {
	return &index{exact: map[string]map[*Subscription]struct{}{}}
}

func add(m *map[*Subscription]struct{}, s *Subscription) {
	if *m == nil {
		*m = map[*Subscription]struct{}{}
	}
	(*m)[s] = struct{}{}
}

// tokens returns the filter's tokens in their user (decoded) form.
func tokens(f bucket.Filter) []string {
	if f.All() {
		return []string{">"}
	}
	return strings.Split(f.String(), ".")
}

func (ix *index) add(s *Subscription) {
	ix.n++
	if s.filter.Literal() {
		k := s.filter.String()
		set := ix.exact[k]
		add(&set, s)
		ix.exact[k] = set
		return
	}
	n := &ix.root
	toks := tokens(s.filter)
	for i, t := range toks {
		switch {
		case t == ">" && i == len(toks)-1:
			add(&n.rest, s)
			return
		case t == "*":
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		default:
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[t]
			if c == nil {
				c = &node{}
				n.children[t] = c
			}
			n = c
		}
	}
	add(&n.here, s)
}

// remove takes s out of the index; it reports whether s was there.
func (ix *index) remove(s *Subscription) bool {
	if s.filter.Literal() {
		k := s.filter.String()
		set := ix.exact[k]
		if _, ok := set[s]; !ok {
			return false
		}
		delete(set, s)
		if len(set) == 0 {
			delete(ix.exact, k)
		}
		ix.n--
		return true
	}
	if ix.root.remove(tokens(s.filter), s) {
		ix.n--
		return true
	}
	return false
}

// remove deletes s under n along toks and prunes empty nodes.
func (n *node) remove(toks []string, s *Subscription) bool {
	if len(toks) == 1 && toks[0] == ">" {
		_, ok := n.rest[s]
		delete(n.rest, s)
		return ok
	}
	if len(toks) == 0 {
		_, ok := n.here[s]
		delete(n.here, s)
		return ok
	}
	var c *node
	if toks[0] == "*" {
		c = n.star
	} else {
		c = n.children[toks[0]]
	}
	if c == nil || !c.remove(toks[1:], s) {
		return false
	}
	if c.empty() {
		if toks[0] == "*" {
			n.star = nil
		} else {
			delete(n.children, toks[0])
		}
	}
	return true
}

func (n *node) empty() bool {
	return len(n.children) == 0 && n.star == nil && len(n.here) == 0 && len(n.rest) == 0
}

// match calls f for every subscription whose filter matches key.
func (ix *index) match(key string, f func(*Subscription)) {
	for s := range ix.exact[key] {
		f(s)
	}
	ix.root.match(strings.Split(key, "."), f)
}

func (n *node) match(toks []string, f func(*Subscription)) {
	if len(toks) == 0 {
		for s := range n.here {
			f(s)
		}
		return
	}
	for s := range n.rest {
		f(s)
	}
	if c := n.children[toks[0]]; c != nil {
		c.match(toks[1:], f)
	}
	if n.star != nil {
		n.star.match(toks[1:], f)
	}
}
