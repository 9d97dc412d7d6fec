package config

import "errors"

// The error sentinels of package config. Errors of the store pass through
// from package kv unchanged: kv.ErrKeyNotFound for a document that is absent,
// kv.ErrConflict for a condition that failed, kv.ErrInvalidKey for a bad
// document name, kv.ErrInvalidBucketName for a bad environment,
// kv.ErrValueTooLarge, kv.ErrUnavailable and the others.
var (
	// ErrNotObject: a document or a patch is not a JSON object. The error
	// says what it is instead, as in
	//
	//	config body must be a JSON object, got array
	//
	// An HTTP layer answers it with 400.
	ErrNotObject = errors.New("config body must be a JSON object")
	// ErrInvalidCondition: a Condition asks for both IfNoneMatch and IfMatch.
	ErrInvalidCondition = errors.New("invalid condition")
)
