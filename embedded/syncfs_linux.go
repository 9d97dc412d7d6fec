package embedded

import (
	"os"

	"golang.org/x/sys/unix"
)

// groupCommitSupported reports whether this system can sync one file
// system (syncfs(2)), which GroupCommit needs.
const groupCommitSupported = true

// syncFS flushes the file system holding dir to stable storage: every file
// written on it, new block files, renames and directory entries included,
// which an fdatasync of the block files alone would miss.
func syncFS(dir *os.File) error {
	for {
		err := unix.Syncfs(int(dir.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
