package kv

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ironkv/ironkv/bucket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The error sentinels of ironkv. Every error a kv call returns matches at most
// one of them with errors.Is; the NATS error that caused it stays in the chain.
// Context errors (context.Canceled, context.DeadlineExceeded) pass through
// unchanged.
var (
	// ErrKeyNotFound: the key has no live value (absent, deleted or purged), or
	// the asked revision is not retained.
	ErrKeyNotFound = errors.New("key not found")
	// ErrBucketNotFound: the bucket does not exist in the store's namespace.
	ErrBucketNotFound = errors.New("bucket not found")
	// ErrBucketExists: CreateBucket on a name that is taken, whatever its config.
	ErrBucketExists = errors.New("bucket already exists")
	// ErrConflict: a conditional write lost (Create on a live key, Update or
	// Delete with a stale revision). The error is a *ConflictError.
	ErrConflict = errors.New("revision conflict")
	// ErrInvalidKey: a key or filter breaks the rules of package bucket.
	ErrInvalidKey = bucket.ErrInvalidKey
	// ErrInvalidBucketName: a bucket name breaks the rules of package bucket.
	ErrInvalidBucketName = bucket.ErrInvalidBucketName
	// ErrInvalidConfig: a bucket config breaks the rules of package bucket, or
	// asks for a change JetStream cannot make (such as the storage type).
	ErrInvalidConfig = bucket.ErrInvalidConfig
	// ErrValueTooLarge: the value exceeds the bucket's max_value_size or the
	// server's maximum payload.
	ErrValueTooLarge = errors.New("value too large")
	// ErrBucketFull: the bucket reached its max_bytes.
	ErrBucketFull = errors.New("bucket full")
	// ErrUnavailable: NATS or JetStream did not answer (no connection, no
	// responders, timeout, no JetStream leader).
	ErrUnavailable = errors.New("store unavailable")
	// ErrSlowConsumer: a watcher fell behind and was ended. The error is a
	// *SlowConsumerError carrying the last delivered revision.
	ErrSlowConsumer = errors.New("slow consumer")
	// ErrClosed: the Store or the Watcher was closed.
	ErrClosed = errors.New("closed")
)

// ConflictError is the error of a conditional write that lost. It matches
// ErrConflict with errors.Is and unwraps to the NATS error, if any.
type ConflictError struct {
	// Key is the key of the failed write.
	Key string
	// Revision is the key's current revision when known (0 when the key has no
	// live value or it could not be read).
	Revision uint64
	// Expected is the revision the write expected (0 for Create).
	Expected uint64
	err      error
}

// Error describes the conflict.
func (e *ConflictError) Error() string {
	var s string
	if e.Expected == 0 {
		s = fmt.Sprintf("revision conflict: key %q already has a live value", e.Key)
	} else {
		s = fmt.Sprintf("revision conflict: key %q is not at revision %d", e.Key, e.Expected)
	}
	if e.Revision != 0 {
		s += "; current revision is " + strconv.FormatUint(e.Revision, 10)
	} else if e.Expected != 0 {
		s += "; it has no live value"
	}
	return s
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap returns the NATS error behind the conflict, if any.
func (e *ConflictError) Unwrap() error { return e.err }

// SlowConsumerError ends a Watcher that fell behind. It matches
// ErrSlowConsumer with errors.Is.
type SlowConsumerError struct {
	// LastRevision is the revision of the last event delivered to the
	// consumer; watch again with ResumeFrom(LastRevision) to continue with no
	// gap.
	LastRevision uint64
}

// Error says how to resume.
func (e *SlowConsumerError) Error() string {
	return "slow consumer; resume from " + strconv.FormatUint(e.LastRevision, 10)
}

// Is reports whether target is ErrSlowConsumer.
func (e *SlowConsumerError) Is(target error) bool { return target == ErrSlowConsumer }

// classify translates an error of nats.go or JetStream into one of the
// sentinels, keeping the original in the chain. It is the only place that
// knows NATS errors. Errors that are already ours and context errors pass
// through unchanged; anything unknown is returned as it is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	// Ours already (including typed errors that match them).
	for _, s := range ours {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		// A stale revision: nats.go reports it both as ErrKeyExists (by code)
		// and ErrKeyRevisionMismatch; either way it is a conflict, and it
		// must be checked before the not-found codes.
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return wrap(ErrConflict, err)
		case jetstream.JSErrCodeStreamNotFound:
			return wrap(ErrBucketNotFound, err)
		case jetstream.JSErrCodeMessageNotFound:
			return wrap(ErrKeyNotFound, err)
		case jetstream.JSErrCodeStreamNameInUse:
			return wrap(ErrBucketExists, err)
		case jetstream.JSErrCodeStreamMessageExceedsMaximum:
			return wrap(ErrValueTooLarge, err)
		case jsErrCodeStreamStoreFailed:
			// Answered only for discard-new limits: max bytes (a full
			// bucket), max messages, or a message over the stored limit,
			// which kv checks before it publishes.
			return wrap(ErrBucketFull, err)
		case jsErrCodeInsufficientResources, jsErrCodeMemoryResourcesExceeded, jsErrCodeStorageResourcesExceeded,
			jsErrCodeStreamInvalidConfig, jsErrCodeReplicasNotSupported, jsErrCodeStreamReplicasNotUpdatable,
			jsErrCodeStreamLimits, jsErrCodeStreamMaxBytesRequired:
			return wrap(ErrInvalidConfig, err)
		case jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount, jsErrCodeClusterNoPeers, jsErrCodeClusterNotAvailable,
			jsErrCodeStreamInvalid:
			return wrap(ErrUnavailable, err)
		}
		if apiErr.Code == 503 {
			return wrap(ErrUnavailable, err)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return wrap(ErrConflict, err)
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted), errors.Is(err, jetstream.ErrMsgNotFound),
		errors.Is(err, nats.ErrKeyNotFound), errors.Is(err, nats.ErrKeyDeleted), errors.Is(err, nats.ErrMsgNotFound):
		return wrap(ErrKeyNotFound, err)
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound),
		errors.Is(err, nats.ErrBucketNotFound), errors.Is(err, nats.ErrStreamNotFound):
		return wrap(ErrBucketNotFound, err)
	case errors.Is(err, jetstream.ErrBucketExists), errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		return wrap(ErrBucketExists, err)
	case errors.Is(err, jetstream.ErrInvalidKey):
		return wrap(ErrInvalidKey, err)
	case errors.Is(err, jetstream.ErrInvalidBucketName):
		return wrap(ErrInvalidBucketName, err)
	case errors.Is(err, nats.ErrMaxPayload):
		return wrap(ErrValueTooLarge, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, jetstream.ErrConnectionClosed):
		return wrap(ErrClosed, err)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, jetstream.ErrJetStreamPublisherClosed):
		return wrap(ErrUnavailable, err)
	}
	return err
}

// JetStream API error codes that nats.go does not name.
const (
	jsErrCodeClusterNoPeers             = 10005
	jsErrCodeClusterNotAvailable        = 10008
	jsErrCodeInsufficientResources      = 10023
	jsErrCodeMemoryResourcesExceeded    = 10028
	jsErrCodeStorageResourcesExceeded   = 10047
	jsErrCodeStreamInvalidConfig        = 10052
	jsErrCodeStreamLimits               = 10053
	jsErrCodeStreamReplicasNotUpdatable = 10061
	jsErrCodeReplicasNotSupported       = 10074
	jsErrCodeStreamStoreFailed          = 10077
	jsErrCodeStreamInvalid              = 10096 // "stream not valid": being deleted
	jsErrCodeStreamMaxBytesRequired     = 10113
)

var ours = []error{ErrKeyNotFound, ErrBucketNotFound, ErrBucketExists, ErrConflict, ErrInvalidKey,
	ErrInvalidBucketName, ErrInvalidConfig, ErrValueTooLarge, ErrBucketFull, ErrUnavailable,
	ErrSlowConsumer, ErrClosed}

// wrap returns an error that matches both sentinel and cause.
func wrap(sentinel, cause error) error {
	return fmt.Errorf("%w: %w", sentinel, cause)
}
