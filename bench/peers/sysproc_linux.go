package main

import "syscall"

// childProcAttr puts a child in a process group of its own and has the
// kernel kill it if this process dies without stopping it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
