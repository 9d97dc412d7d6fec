package bucket

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest bucket name, in characters (all of them ASCII).
const MaxNameLen = 64

// A Namespace is the prefix that separates user buckets from system ones.
// The library adds it after validating the user's name, and since a name
// cannot be empty or contain anything outside [A-Za-z0-9_-], no user name can
// reach a bucket of another namespace: APP_ buckets never collide with SYS_
// ones. The stream behind bucket name in namespace ns is
// "KV_" + ns + name, with subjects "$KV." + ns + name + ".>".
type Namespace string

// The namespaces ironkv uses.
const (
	// App holds the buckets users create through the library and the API.
	App Namespace = "APP_"
	// SysConfig holds one bucket of JSON settings per environment.
	SysConfig Namespace = "SYS_config_"
	// SysSecrets holds one bucket of encrypted secrets per environment.
	SysSecrets Namespace = "SYS_secrets_"
)

// known lists the namespaces above, for Strip's ownership check.
var known = []Namespace{App, SysConfig, SysSecrets}

// ValidateName reports whether name is a valid bucket name: 1 to 64
// characters from [A-Za-z0-9_-]. It returns nil or an error wrapping
// ErrInvalidBucketName that says which character or length is wrong.
func ValidateName(name string) error {
	if p := nameProblem(name); p != "" {
		return fmt.Errorf("%w: bucket name %s: %s", ErrInvalidBucketName, quote(name), p)
	}
	return nil
}

// nameProblem returns what is wrong with name, or "" when it is valid.
func nameProblem(name string) string {
	if name == "" {
		return "empty; use 1..64 characters from [A-Za-z0-9_-]"
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Sprintf("character %s at byte %d is not allowed; use only [A-Za-z0-9_-]", quoteRuneAt(name, i), i)
		}
	}
	if len(name) > MaxNameLen {
		return fmt.Sprintf("%d characters long; use at most %d", len(name), MaxNameLen)
	}
	return ""
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Qualify validates name and returns it with the namespace prefix, the name
// of the bucket in NATS: App.Qualify("orders") is "APP_orders". It returns
// an error wrapping ErrInvalidBucketName when name is not valid.
func (ns Namespace) Qualify(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return string(ns) + name, nil
}

// Strip is the inverse of Qualify: it returns the user's name of the NATS
// bucket full, and ok = false when full does not belong to ns. A bucket
// belongs to ns when it starts with the prefix, the rest is a valid name,
// and it does not belong to a longer known namespace that also starts with
// ns (so a namespace "SYS_" would not claim SYS_config_ buckets). Buckets
// made by other NATS tools with names that Qualify could not produce are
// not claimed, so listings only show what the caller can address. Strip
// returns no error.
func (ns Namespace) Strip(full string) (name string, ok bool) {
	rest, found := strings.CutPrefix(full, string(ns))
	if !found || nameProblem(rest) != "" {
		return "", false
	}
	for _, other := range known {
		if len(other) > len(ns) && strings.HasPrefix(string(other), string(ns)) && strings.HasPrefix(full, string(other)) {
			return "", false
		}
	}
	return rest, true
}

// StreamName returns the JetStream stream behind bucket name in ns:
// "KV_" + ns + name. It does no validation and returns no error; call it
// with a name that ValidateName accepts.
func (ns Namespace) StreamName(name string) string {
	return "KV_" + string(ns) + name
}
