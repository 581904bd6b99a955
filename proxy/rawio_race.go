//go:build race

package proxy

import "syscall"

// Race-detector builds: the syscall package's calls, whose
// happens-before annotations the raw calls lack (see rawio.go).

func sysRead(fd int, p []byte) (int, error) { return syscall.Read(fd, p) }

func sysWrite(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
