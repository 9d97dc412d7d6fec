package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// The environment variables KeyringFromEnv reads.
const (
	// EnvMasterKey holds the keyring: one key of 64 hex digits, or a list
	// as ParseKeyring reads it.
	EnvMasterKey = "IRONKV_MASTER_KEY"
	// EnvMasterKeyFile names a key file, as LoadKeyring reads it.
	EnvMasterKeyFile = "IRONKV_MASTER_KEY_FILE"
)

// KeySize is the size of a master key in bytes: 32, written as 64 hex
// digits.
const KeySize = 32

// maxKeyIDLen is the longest key id; ids are stored in every envelope, and
// are shorter than a key in hex, so that a key written where its id goes
// is refused rather than shown as an id.
const maxKeyIDLen = 32

// hkdfInfo separates the AES key derived from a master key from any other
// use of the same key.
const hkdfInfo = "ironkv secrets AES-256-GCM v1"

// Keyring holds the master keys of secrets: one active key, which encrypts
// every write, and older keys, which still open what they encrypted. Each
// key has an id that is stored beside every ciphertext, so that a read
// finds its key. A Keyring never shows key material: String, GoString and
// LogValue print only ids. It is safe for concurrent use and never changes
// after it is made.
type Keyring struct {
	keys []*masterKey // keys[0] is the active key
}

// masterKey is one key of a Keyring: its id, the id KeyID gives it, and
// the AEAD of the AES-256 key derived from it. The key bytes themselves are
// not kept.
type masterKey struct {
	id      string
	derived string
	aead    cipher.AEAD
}

// KeyID returns the id a key gets when none is given: the first 8 hex
// digits of the SHA-256 of its 32 bytes, the same as
//
//	echo -n $KEY | xxd -r -p | sha256sum | cut -c1-8
//
// It reveals nothing usable about a random key. It returns "" for a key
// that is not KeySize bytes.
func KeyID(key []byte) string {
	if len(key) != KeySize {
		return ""
	}
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// newMasterKey derives the AES-256-GCM key of a master key with HKDF-SHA256.
func newMasterKey(id string, key []byte) (*masterKey, error) {
	derived := KeyID(key)
	aesKey, err := hkdf.Key(sha256.New, key, nil, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	clear(aesKey)
	return &masterKey{id: id, derived: derived, aead: aead}, nil
}

// NewKeyring returns a Keyring of keys, each KeySize random bytes, with the
// ids KeyID gives them. The first key is the active one. It returns an error
// wrapping ErrNoMasterKey when there is no key and ErrInvalidKeyring for a
// key of the wrong size, a key of zeros, or a key given twice.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, ErrNoMasterKey
	}
	es := make([]entry, len(keys))
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: key %d has %d bytes; want %d", ErrInvalidKeyring, i+1, len(k), KeySize)
		}
		es[i] = entry{where: fmt.Sprintf("key %d", i+1), id: KeyID(k), key: k}
	}
	return build(es)
}

// entry is one parsed key of a keyring, with where it came from for
// messages.
type entry struct {
	where string
	id    string
	key   []byte
}

func build(es []entry) (*Keyring, error) {
	kr := &Keyring{}
	seen := map[string]string{} // ids, given and derived, and where
	for i, e := range es {
		var zero [KeySize]byte
		if subtle.ConstantTimeCompare(e.key, zero[:]) == 1 {
			return nil, fmt.Errorf("%w: %s is all zeros; generate a random key with: openssl rand -hex 32", ErrInvalidKeyring, e.where)
		}
		for _, prev := range es[:i] {
			if subtle.ConstantTimeCompare(prev.key, e.key) == 1 {
				return nil, fmt.Errorf("%w: %s is the same key as %s", ErrInvalidKeyring, e.where, prev.where)
			}
		}
		// Records written when a key was given without a name carry its
		// KeyID: that id must not lead to another key either.
		for _, id := range []string{e.id, KeyID(e.key)} {
			if w, ok := seen[id]; ok && w != e.where {
				return nil, fmt.Errorf("%w: %s and %s both have the id %q (given, or the KeyID of a key without a name); give each key its own id", ErrInvalidKeyring, w, e.where, id)
			}
			seen[id] = e.where
		}
		mk, err := newMasterKey(e.id, e.key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKeyring, e.where, err)
		}
		kr.keys = append(kr.keys, mk)
	}
	return kr, nil
}

// ParseKeyring reads a keyring from its text form: entries separated by
// commas or newlines, the active key first, each either 64 hex digits (a
// 32-byte key, whose id is KeyID's) or "id:" and 64 hex digits, where id is
// 1 to 32 characters from [A-Za-z0-9_-]:
//
//	3f1c...e9                      one key, the active one
//	2025-06:9a0b...41,2024-01:3f1c...e9   a new active key and an older one
//
// Spaces around entries are ignored. Generate a key with
// `openssl rand -hex 32`. ParseKeyring returns ErrNoMasterKey for a spec
// with no entry, and an error wrapping ErrInvalidKeyring that names the
// entry and what is wrong with it (never its key) otherwise.
func ParseKeyring(spec string) (*Keyring, error) {
	var es []entry
	n := 0
	for line := range strings.SplitSeq(spec, "\n") {
		for text := range strings.SplitSeq(line, ",") {
			text = strings.TrimSpace(text)
			if text == "" {
				continue
			}
			n++
			e, err := parseEntry(fmt.Sprintf("entry %d", n), text)
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return nil, ErrNoMasterKey
	}
	return build(es)
}

// parseEntry reads "hex" or "id:hex". Messages never quote the text: it
// holds a key, or something meant to be one.
func parseEntry(where, text string) (entry, error) {
	e := entry{where: where}
	keyHex := text
	if id, rest, ok := strings.Cut(text, ":"); ok {
		if !validKeyID(id) {
			return e, fmt.Errorf("%w: %s: the key id before ':' must be 1 to %d characters from [A-Za-z0-9_-]", ErrInvalidKeyring, where, maxKeyIDLen)
		}
		e.id, keyHex = id, strings.TrimSpace(rest)
	}
	if len(keyHex) != 2*KeySize {
		return e, fmt.Errorf("%w: %s: the key has %d characters; want %d hex digits (32 random bytes, as openssl rand -hex 32 prints them)", ErrInvalidKeyring, where, len(keyHex), 2*KeySize)
	}
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		return e, fmt.Errorf("%w: %s: the key is not all hex digits; want 64 of [0-9a-f] (openssl rand -hex 32)", ErrInvalidKeyring, where)
	}
	if e.id == "" {
		e.id = KeyID(key)
	}
	e.key = key
	return e, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// LoadKeyring returns the keyring given either as value, in ParseKeyring's
// form (what IRONKV_MASTER_KEY holds), or as the path of a key file. A key
// file holds one key per line in the same form, the active key first;
// blank lines and lines starting with '#' are ignored. Keep it readable by
// the server's user only (chmod 600).
//
// LoadKeyring returns ErrNoMasterKey, whose text says how to set a key,
// when both are empty; an error wrapping ErrInvalidKeyring when both are
// set or the keyring is malformed; and the error of reading the file.
func LoadKeyring(value, keyFile string) (*Keyring, error) {
	value = strings.TrimSpace(value)
	switch {
	case value != "" && keyFile != "":
		return nil, fmt.Errorf("%w: both a master key (%s) and a key file (%s) are set; set one", ErrInvalidKeyring, EnvMasterKey, EnvMasterKeyFile)
	case value != "":
		return ParseKeyring(value)
	case keyFile == "":
		return nil, ErrNoMasterKey
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	var es []entry
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseEntry(fmt.Sprintf("key file %s line %d", keyFile, i+1), line)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	clear(b)
	if len(es) == 0 {
		return nil, fmt.Errorf("key file %s holds no key: %w", keyFile, ErrNoMasterKey)
	}
	return build(es)
}

// KeyringFromEnv is LoadKeyring with the values of the environment
// variables IRONKV_MASTER_KEY and IRONKV_MASTER_KEY_FILE. It returns
// ErrNoMasterKey when neither is set.
func KeyringFromEnv() (*Keyring, error) {
	return LoadKeyring(os.Getenv(EnvMasterKey), os.Getenv(EnvMasterKeyFile))
}

// ActiveID returns the id of the active key, the one that encrypts writes,
// or "" for a Keyring without keys. It returns no error.
func (k *Keyring) ActiveID() string {
	if k == nil || len(k.keys) == 0 {
		return ""
	}
	return k.keys[0].id
}

// IDs returns the ids of the keys, the active one first. It returns no
// error.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, mk := range k.keys {
		ids[i] = mk.id
	}
	return ids
}

func (k *Keyring) active() *masterKey { return k.keys[0] }

// byID returns the key of id: the key of that name or, for records
// written when a key was given without a name, the key whose KeyID it is.
func (k *Keyring) byID(id []byte) *masterKey {
	for _, mk := range k.keys {
		if mk.id == string(id) {
			return mk
		}
	}
	for _, mk := range k.keys {
		if mk.derived == string(id) {
			return mk
		}
	}
	return nil
}

// String describes the keyring by its ids, such as
// "keyring(active 9a0b11c2; also 3f1c0d4e)". It never shows key material.
func (k *Keyring) String() string {
	if k == nil || len(k.keys) == 0 {
		return "keyring(empty)"
	}
	s := "keyring(active " + k.keys[0].id
	if len(k.keys) > 1 {
		s += "; also " + strings.Join(k.IDs()[1:], ", ")
	}
	return s + ")"
}

// GoString is String, so that %#v shows no key material either.
func (k *Keyring) GoString() string { return k.String() }

// LogValue is String, for log/slog.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON encodes String as a JSON string. It returns no error of its
// own.
func (k *Keyring) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
