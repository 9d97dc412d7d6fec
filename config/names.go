package config

import (
	"github.com/ironkv/ironkv/bucket"
)

// DefaultEnvironment is the environment of calls that name none (""), as
// in Ironflow, where a request without X-Ironflow-Environment works in
// "default".
const DefaultEnvironment = bucket.DefaultEnvironment

// MaxNameLen is the longest document name, in bytes.
const MaxNameLen = bucket.MaxItemNameLen

// environment returns env, or DefaultEnvironment for "", after checking that
// it is a valid bucket name. It returns an error wrapping
// kv.ErrInvalidBucketName.
func environment(env string) (string, error) { return bucket.Environment(env) }

// ValidateName reports whether name is a valid document name: 1 to 256
// characters from [A-Za-z0-9_.-], where '.' separates non-empty parts (no
// leading or trailing '.', no ".."). It returns nil or an error wrapping
// kv.ErrInvalidKey that says what is wrong, such as
//
//	invalid key: config name "a/b": character '/' at byte 1 is not allowed; use [A-Za-z0-9_.-]
func ValidateName(name string) error { return bucket.ValidateItemName("config name", name) }
