//go:build !linux

package loadstat

import "time"

// CPUTimes cannot tell the CPU times without Linux's /proc.
func CPUTimes(...int) (ours, machine time.Duration, ok bool) { return 0, 0, false }
