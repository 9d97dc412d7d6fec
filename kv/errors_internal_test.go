package kv

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestClassify checks the mapping of the JetStream errors that a bucket
// deleted under a request produces.
func TestClassify(t *testing.T) {
	api := func(code jetstream.ErrorCode, status int) error {
		return fmt.Errorf("nats: %w", &jetstream.APIError{ErrorCode: code, Code: status, Description: "x"})
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{api(jetstream.JSErrCodeStreamNotFound, 404), ErrBucketNotFound},
		{api(jsErrCodeStreamInvalid, 500), ErrUnavailable}, // "stream not valid": the stream is being deleted
		{api(jetstream.JSErrCodeStreamWrongLastSequence, 400), ErrConflict},
		{context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		if got := classify(tc.err); !errors.Is(got, tc.want) {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
