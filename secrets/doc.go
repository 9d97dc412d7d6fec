// Package secrets stores secrets (API keys, passwords, tokens) per
// environment on ironkv's kv core, encrypted with AES-256-GCM before they
// reach NATS. It implements the Secrets service of the Ironflow platform,
// secure by default: without a master key it refuses to store anything.
//
//	kr, err := secrets.KeyringFromEnv() // IRONKV_MASTER_KEY or IRONKV_MASTER_KEY_FILE
//	store, _ := kv.New(nc, kv.WithNamespace(bucket.SysSecrets))
//	vault, err := secrets.New(store, kr)
//	info, err := vault.Create(ctx, "prod", "STRIPE_KEY", []byte("sk_live_..."), "payments")
//	key, err := vault.Reveal(ctx, "prod", "STRIPE_KEY") // plaintext, in the process only
//
// The HTTP API serves metadata only (Info: name, revision, created_at,
// updated_at, description): Create, Put, SetDescription, Info, List and
// Delete. Reveal, the one call that returns a value, is for Go code in the
// same process and must never be served.
//
// # Storage
//
// Each environment is one kv bucket in the SysSecrets namespace:
// environment "prod" is the NATS KV bucket SYS_secrets_prod, created by the
// environment's first secret with one revision per key (so replaced values,
// and ciphertexts under retired keys, do not linger in the stream) and the
// store's default storage and replicas. Each secret is one key, its name,
// whose value is an envelope. Delete purges the key, history and all.
// Environments are bucket names (1 to 64 of [A-Za-z0-9_-], "" meaning
// DefaultEnvironment); secret names are 1 to 256 of [A-Za-z0-9_.-] with '.'
// between non-empty parts (ValidateName). User buckets live in the App
// namespace and cannot name a SYS_secrets_ bucket, so the KV API and its
// listings never reach or show secrets (see package bucket).
//
// # Envelope
//
// An envelope is binary. Version 1, the only one written with a keyring:
//
//	version   1 byte: 1
//	id len    1 byte: 1..32
//	key id    the id of the master key that sealed it
//	nonce     12 bytes, fresh from crypto/rand for every encryption
//	sealed    AES-256-GCM ciphertext of the record, then the 16-byte tag
//
// The record inside holds everything about the secret but its name and
// revision:
//
//	created_at   8 bytes, Unix nanoseconds, big-endian
//	updated_at   8 bytes, Unix nanoseconds, big-endian
//	desc len     uvarint (at most MaxDescriptionLen, 4096)
//	description  UTF-8
//	value        the rest
//
// So the description and both timestamps are as confidential as the
// value, and as tamper-proof. Info and List open (and so verify) each
// secret to read them. updated_at changes when the value or description
// does; Reencrypt keeps both timestamps and changes only the revision.
//
// Version 0 is the development format: the record in clear after the
// version byte, with no authentication at all (see Plaintext mode).
//
// # Encryption and associated data
//
// A master key is 32 random bytes. The AES-256 key is derived from it with
// HKDF-SHA256 (info "ironkv secrets AES-256-GCM v1"), so the master key is
// never used directly and could serve other purposes without reuse. Every
// encryption draws a fresh random 96-bit nonce.
//
// The associated data of every seal is a fixed domain string, the envelope
// header (version, id length, key id), the environment and the secret name,
// each with its length. GCM authenticates it with the ciphertext, so:
//
//   - a change to any byte of an envelope (version, key id, nonce,
//     ciphertext or tag), a truncation or an extension, makes it fail to
//     open;
//   - an envelope copied to another name, or to the same name in another
//     environment, fails to open there;
//   - a version 1 envelope cannot be turned into a version 0 one that a
//     Secrets with a keyring reads (version 0 is refused unless plaintext is
//     allowed).
//
// Every failure to open, whatever the cause, is the one error ErrDecrypt
// ("secret cannot be decrypted"), wrapped with the secret's name and
// environment and nothing else: no key id, no offset, no reason.
//
// The envelope is binary, not JSON, on purpose: JSON decoders accept many
// spellings of one document (encoding/json matches field names without
// regard to case, and "\u00e9" and "\u00E9" are one string), so a changed
// byte could decode to the same fields and open; a binary layout whose
// header is authenticated byte for byte cannot.
//
// # Master keys
//
// Master keys come from outside NATS, as a Keyring: one active key, which
// encrypts every write, and older keys, which open what they encrypted.
// KeyringFromEnv reads it from IRONKV_MASTER_KEY (one key as 64 hex digits,
// or a list) or IRONKV_MASTER_KEY_FILE (a file of one key per line, '#'
// comments allowed), the active key first; LoadKeyring does the same with
// values a program got elsewhere, ParseKeyring reads the list form, and
// NewKeyring takes raw keys (from a KMS, say). Generate a key with
//
//	openssl rand -hex 32
//
// Each key has an id, stored in every envelope it seals: a name given as
// "id:hex" (1 to 32 of [A-Za-z0-9_-], such as "2025-06"), or else KeyID,
// the first 8 hex digits of the key's SHA-256. A key first given bare and
// later named keeps opening the envelopes of its bare days. A Keyring never
// prints keys: String, GoString, LogValue and MarshalJSON show ids only,
// and no error quotes key material.
//
// # Key rotation
//
//  1. Generate a new key: openssl rand -hex 32.
//  2. With several processes, first add it as an older key everywhere
//     (IRONKV_MASTER_KEY="2024:<old>,2025:<new>") and restart them, so that
//     every process can read what the new key will seal. With one process,
//     skip to 3.
//  3. Make it the active key everywhere (IRONKV_MASTER_KEY=
//     "2025:<new>,2024:<old>") and restart: new writes carry its id, old
//     secrets still open with the old key.
//  4. Run Reencrypt (the library call, or the server's re-encrypt command):
//     it moves every secret to the active key with compare-and-swap, so a
//     concurrent write is never overwritten (Reencrypt reads the secret
//     again and starts over from it). Check that Report.Failed is empty.
//  5. Remove the old key (IRONKV_MASTER_KEY="2025:<new>") and restart.
//     Keep a copy of it offline while backups made before step 4 exist.
//
// Rotate long before one key has sealed 2^32 envelopes: beyond that, random
// 96-bit nonces may repeat (NIST SP 800-38D).
//
// # No master key, and plaintext mode
//
// New with a nil keyring fails with ErrNoMasterKey, whose text says how to
// set a key. AllowPlaintextInsecure, named for the risk, lets a development
// setup run without one: values are then stored in clear (version 0), New
// logs a warning, and Encrypted reports false so that a server can show it.
// Ironflow stores plaintext by default; ironkv does not. Given with a
// keyring, AllowPlaintextInsecure keeps writes encrypted and still reads
// version 0 records, so that Reencrypt can encrypt a development store;
// drop the option afterwards, since while it is set anyone who can write
// to NATS can plant plaintext records.
//
// # What is protected, and what is not
//
// Protected: the values, descriptions and timestamps of secrets against
// anyone who reads the NATS stream, its files, snapshots or backups, or the
// bucket with NATS tools, without the master key; and against anyone who
// writes to NATS without the key, who cannot forge a secret, change one,
// or move one to another name or environment without Reveal, Info and List
// failing with ErrDecrypt.
//
// Not protected:
//
//   - Names and environments (they are NATS keys and bucket names), the
//     number of secrets, when they change, and the length of each value
//     (an envelope is the value, the description and about 60 bytes).
//   - Rollback: someone who can write to NATS and kept an older envelope of
//     a secret can put it back, and it opens; and anyone who can write to
//     NATS can delete secrets. Restrict who can write to SYS_secrets_
//     subjects with NATS permissions.
//   - The process: Reveal returns plaintext to any Go code that has the
//     Secrets; the keys are in its memory and environment, and Go gives no
//     way to wipe memory reliably (the package clears its own buffers as a
//     courtesy, not a guarantee). Keep key files readable by the server's
//     user only (chmod 600).
//   - Plaintext mode, which protects nothing.
//
// # Errors
//
// Besides its own ErrNoMasterKey, ErrDecrypt, ErrInvalidKeyring and
// ErrInvalidSecret, the package returns kv's sentinels: kv.ErrKeyNotFound
// (no such secret), kv.ErrConflict (Create of a secret that exists),
// kv.ErrInvalidKey (a bad name), kv.ErrInvalidBucketName (a bad
// environment), kv.ErrValueTooLarge, kv.ErrUnavailable, kv.ErrClosed, and
// context errors. An HTTP layer maps ErrInvalidSecret to 400, kv.ErrConflict
// on create to 409, and ErrDecrypt and ErrNoMasterKey to server errors whose
// text may be shown: neither holds anything secret.
//
// # Decisions
//
// The routes and shapes are Ironflow's; the rest follows HashiCorp Vault,
// secure by default. Like Vault's barrier, values are encrypted with
// AES-256-GCM under a keyring whose newest key encrypts and whose older keys
// still decrypt, and rotation is an online operation. Like Vault's KV
// version 1 engine, a secret has one current value (no version history: an
// old value of a credential is a liability, not a feature), and Delete
// removes it for good. Unlike Ironflow, no master key means no secrets,
// never silent plaintext. Values are write-only over HTTP, as in both.
//
// # Limits
//
//   - A value and its envelope must fit the server's maximum payload (1 MiB
//     by default, less a little room for headers).
//   - List and Reencrypt read every secret of an environment, one request
//     each: environments are meant for tens to thousands of secrets.
//   - A Secrets whose keyring lacks a key cannot Put over, or list, the
//     secrets that key sealed (ErrDecrypt); Delete still removes them.
package secrets
