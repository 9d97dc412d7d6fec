package secrets

import (
	"fmt"
	"unicode/utf8"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
)

// DefaultEnvironment is the environment of calls that name none (""), as
// in Ironflow, where a request without X-Ironflow-Environment works in
// "default".
const DefaultEnvironment = "default"

// MaxNameLen is the longest secret name, in bytes.
const MaxNameLen = 256

// MaxDescriptionLen is the longest description, in bytes.
const MaxDescriptionLen = 4096

// environment returns env, or DefaultEnvironment for "", after checking that
// it is a valid bucket name. It returns an error wrapping
// kv.ErrInvalidBucketName.
func environment(env string) (string, error) {
	if env == "" {
		env = DefaultEnvironment
	}
	if err := bucket.ValidateName(env); err != nil {
		return "", fmt.Errorf("environment: %w", err)
	}
	return env, nil
}

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
func ValidateName(name string) error {
	if p := nameProblem(name); p != "" {
		return fmt.Errorf("%w: secret name %q: %s", kv.ErrInvalidKey, shorten(name), p)
	}
	return nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty; use 1 to 256 characters from [A-Za-z0-9_.-]"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("%d bytes long; use at most %d", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.':
			if i == 0 || i == len(name)-1 || name[i-1] == '.' {
				return "'.' separates non-empty parts: no leading or trailing '.', no \"..\""
			}
		default:
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Sprintf("character %q at byte %d is not allowed; use [A-Za-z0-9_.-]", r, i)
		}
	}
	return ""
}

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

// shorten cuts long names in messages.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
