package secrets

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"
	"unicode/utf8"
)

// Envelope versions: the first byte of every stored secret.
const (
	// versionPlaintext is the development format: the record in clear,
	// unauthenticated. Written only by a Secrets that has no keyring and
	// AllowPlaintextInsecure.
	versionPlaintext byte = 0
	// versionAESGCM is the record sealed with AES-256-GCM.
	versionAESGCM byte = 1
)

const (
	nonceSize = 12 // GCM's standard nonce, 96 bits
	tagSize   = 16
	// recordHeader is the fixed part of a record: two timestamps and at
	// least one byte of description length.
	recordHeader = 8 + 8 + 1
)

// adDomain starts the associated data of every seal, so that a ciphertext
// made by the same key for another purpose never opens as a secret.
const adDomain = "ironkv secret v1\x00"

// errOpen is the internal cause of every failure to open an envelope;
// callers turn it into ErrDecrypt without detail.
var errOpen = errors.New("envelope does not open")

// record is what an envelope protects: the value and the metadata.
type record struct {
	created     time.Time
	updated     time.Time
	description string
	value       []byte
}

// marshal encodes r as
//
//	created   8 bytes, Unix nanoseconds, big-endian
//	updated   8 bytes, Unix nanoseconds, big-endian
//	desc len  uvarint
//	desc      UTF-8
//	value     the rest
func (r record) marshal() []byte {
	b := make([]byte, 0, 16+binary.MaxVarintLen64+len(r.description)+len(r.value))
	b = binary.BigEndian.AppendUint64(b, uint64(r.created.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.updated.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(r.description)))
	b = append(b, r.description...)
	return append(b, r.value...)
}

// unmarshalRecord decodes what marshal encodes; the value is copied.
func unmarshalRecord(b []byte) (record, error) {
	if len(b) < recordHeader {
		return record{}, errOpen
	}
	r := record{
		created: time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(),
		updated: time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))).UTC(),
	}
	n, w := binary.Uvarint(b[16:])
	if w <= 0 || n > MaxDescriptionLen || n > uint64(len(b)-16-w) {
		return record{}, errOpen
	}
	desc := b[16+w : 16+w+int(n)]
	if !utf8.Valid(desc) {
		return record{}, errOpen
	}
	r.description = string(desc)
	r.value = append([]byte(nil), b[16+w+int(n):]...)
	return r, nil
}

// newNonce returns 96 fresh random bits from crypto/rand, which never
// fails (it crashes the program rather than return predictable bytes).
func newNonce() [nonceSize]byte {
	var n [nonceSize]byte
	_, _ = rand.Read(n[:])
	return n
}

// header returns the clear part of a version 1 envelope before the nonce:
// the version, the length of the key id, and the key id.
func header(kid string) []byte {
	h := make([]byte, 0, 2+len(kid))
	h = append(h, versionAESGCM, byte(len(kid)))
	return append(h, kid...)
}

// additionalData binds a seal to its envelope header (version and key id),
// its environment and its name. The nonce is bound by GCM itself.
func additionalData(hdr []byte, env, name string) []byte {
	ad := make([]byte, 0, len(adDomain)+len(hdr)+2*binary.MaxVarintLen64+len(env)+len(name))
	ad = append(ad, adDomain...)
	ad = append(ad, hdr...)
	ad = binary.AppendUvarint(ad, uint64(len(env)))
	ad = append(ad, env...)
	ad = binary.AppendUvarint(ad, uint64(len(name)))
	return append(ad, name...)
}

// seal encrypts plaintext for secret name of environment env under mk, with
// a fresh random nonce, and returns the version 1 envelope:
//
//	version   1 byte, 1
//	id len    1 byte, 1..32
//	key id    the id of mk
//	nonce     12 bytes
//	sealed    AES-256-GCM ciphertext and 16-byte tag
func seal(mk *masterKey, env, name string, plaintext []byte) []byte {
	hdr := header(mk.id)
	nonce := newNonce()
	out := make([]byte, 0, len(hdr)+nonceSize+len(plaintext)+tagSize)
	out = append(out, hdr...)
	out = append(out, nonce[:]...)
	return mk.aead.Seal(out, nonce[:], plaintext, additionalData(hdr, env, name))
}

// parseEnvelope splits a version 1 envelope into header, key id, nonce and
// sealed bytes, without opening it.
func parseEnvelope(raw []byte) (hdr, kid, nonce, sealed []byte, err error) {
	if len(raw) < 2 || raw[0] != versionAESGCM {
		return nil, nil, nil, nil, errOpen
	}
	n := int(raw[1])
	if n == 0 || n > maxKeyIDLen || len(raw) < 2+n+nonceSize+tagSize {
		return nil, nil, nil, nil, errOpen
	}
	hdr = raw[:2+n]
	return hdr, raw[2 : 2+n], raw[2+n : 2+n+nonceSize], raw[2+n+nonceSize:], nil
}

// open opens a version 1 envelope with the key of its id in kr and returns
// the plaintext and that key's id. Every failure is errOpen.
func open(kr *Keyring, raw []byte, env, name string) ([]byte, string, error) {
	if kr == nil {
		return nil, "", errOpen
	}
	hdr, kid, nonce, sealed, err := parseEnvelope(raw)
	if err != nil {
		return nil, "", err
	}
	mk := kr.byID(kid)
	if mk == nil {
		return nil, "", errOpen
	}
	pt, err := mk.aead.Open(nil, nonce, sealed, additionalData(hdr, env, name))
	if err != nil {
		return nil, "", errOpen
	}
	return pt, mk.id, nil
}

// plaintextEnvelope returns the version 0 envelope of a record: the version
// byte and the record in clear.
func plaintextEnvelope(payload []byte) []byte {
	return append([]byte{versionPlaintext}, payload...)
}
