//go:build !linux

package embedded

import (
	"errors"
	"os"
)

// groupCommitSupported is false where syncfs(2) is missing: GroupCommit
// then falls back to SyncAlways.
const groupCommitSupported = false

func syncFS(*os.File) error {
	return errors.New("syncing one file system is not supported on this system")
}
