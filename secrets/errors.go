package secrets

import "errors"

// The error sentinels of package secrets. Errors of the store pass through
// from package kv unchanged: kv.ErrKeyNotFound for a secret that does not
// exist, kv.ErrConflict for Create on a secret that exists, kv.ErrInvalidKey
// for a bad secret name, kv.ErrInvalidBucketName for a bad environment,
// kv.ErrValueTooLarge, kv.ErrUnavailable and the others. No error of this
// package ever holds a secret value or key material.
var (
	// ErrNoMasterKey: there is no master key, so secrets are refused. Its
	// text says how to set one.
	ErrNoMasterKey = errors.New("no master key for secrets: set IRONKV_MASTER_KEY to 32 random bytes in hex " +
		"(generate them with: openssl rand -hex 32), or IRONKV_MASTER_KEY_FILE to a file that holds them; " +
		"plaintext secrets, for development only, must be allowed explicitly")
	// ErrDecrypt: a stored secret cannot be opened. It is the one error for
	// every cause (a wrong or missing key, a changed or truncated record, a
	// record copied from another name or environment, a plaintext record
	// where plaintext is not allowed), so that it tells an attacker nothing.
	ErrDecrypt = errors.New("secret cannot be decrypted")
	// ErrInvalidKeyring: a keyring spec or key file is malformed. The
	// error says which entry and what is wrong, never the key material.
	ErrInvalidKeyring = errors.New("invalid master keyring")
	// ErrInvalidSecret: a value or description is not acceptable (an empty
	// value, a description over MaxDescriptionLen or not UTF-8).
	ErrInvalidSecret = errors.New("invalid secret")
)
