package secrets

import (
	"fmt"
	"unicode/utf8"

	"github.com/ironkv/ironkv/bucket"
)

// DefaultEnvironment is the environment of calls that name none (""), as
// in Ironflow, where a request without X-Ironflow-Environment works in
// "default".
const DefaultEnvironment = bucket.DefaultEnvironment

// MaxNameLen is the longest secret name, in bytes.
const MaxNameLen = bucket.MaxItemNameLen

// MaxDescriptionLen is the longest description, in bytes.
const MaxDescriptionLen = 4096

// environment returns env, or DefaultEnvironment for "", after checking that
// it is a valid bucket name. It returns an error wrapping
// kv.ErrInvalidBucketName.
func environment(env string) (string, error) { return bucket.Environment(env) }

// check validates env (defaulting it) and name.
func check(env, name string) (string, error) {
	env, err := environment(env)
	if err != nil {
		return "", err
	}
	return env, ValidateName(name)
}

// ValidateName reports whether name is a valid secret name: 1 to 256
// characters from [A-Za-z0-9_.-], where '.' separates non-empty parts (no
// leading or trailing '.', no ".."), such as "STRIPE_API_KEY" or
// "db.password". It returns nil or an error wrapping kv.ErrInvalidKey that
// says what is wrong.
func ValidateName(name string) error { return bucket.ValidateItemName("secret name", name) }

// checkSecret validates a value and a description.
func checkSecret(value []byte, description string) error {
	if len(value) == 0 {
		return fmt.Errorf("%w: the value is empty", ErrInvalidSecret)
	}
	return checkDescription(description)
}

func checkDescription(description string) error {
	if len(description) > MaxDescriptionLen {
		return fmt.Errorf("%w: description of %d bytes; use at most %d", ErrInvalidSecret, len(description), MaxDescriptionLen)
	}
	if !utf8.ValidString(description) {
		return fmt.Errorf("%w: the description is not valid UTF-8", ErrInvalidSecret)
	}
	return nil
}
