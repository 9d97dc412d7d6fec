package bucket

import (
	"fmt"
	"unicode/utf8"
)

// DefaultEnvironment is the environment of system settings and secrets
// when a call names none, as in Ironflow, where a request without
// X-Ironflow-Environment works in "default".
const DefaultEnvironment = "default"

// MaxItemNameLen is the longest name of a config document or a secret, in
// bytes.
const MaxItemNameLen = 256

// Environment returns env, or DefaultEnvironment for "", after checking
// that it can name a bucket (one bucket per environment). It returns nil or
// an error wrapping ErrInvalidBucketName.
func Environment(env string) (string, error) {
	if env == "" {
		env = DefaultEnvironment
	}
	if err := ValidateName(env); err != nil {
		return "", fmt.Errorf("environment: %w", err)
	}
	return env, nil
}

// ValidateItemName checks the name of a config document or a secret (kind
// says which, for the message, such as "config name"): 1 to 256 characters
// from [A-Za-z0-9_.-], where '.' separates non-empty parts (no leading or
// trailing '.', no ".."). It returns nil or an error wrapping ErrInvalidKey
// that says what is wrong.
func ValidateItemName(kind, name string) error {
	if p := itemNameProblem(name); p != "" {
		if len(name) > 64 {
			name = name[:61] + "..."
		}
		return fmt.Errorf("%w: %s %q: %s", ErrInvalidKey, kind, name, p)
	}
	return nil
}

func itemNameProblem(name string) string {
	switch {
	case name == "":
		return "empty; use 1 to 256 characters from [A-Za-z0-9_.-]"
	case len(name) > MaxItemNameLen:
		return fmt.Sprintf("%d bytes long; use at most %d", len(name), MaxItemNameLen)
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
