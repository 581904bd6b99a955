package loadclient

import (
	"fmt"
	"net"
	"syscall"
)

// LoopbackOnly refuses anything but 127.0.0.0/8 and ::1: the bench sends
// traffic to loopback only.
func LoopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("addr: %w", err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("addr %s: only loopback addresses are allowed", addr)
	}
	return nil
}

// RaiseNofile lifts this process's RLIMIT_NOFILE to at least want (up to
// the hard limit, raising the hard limit too when running as root). Never
// a host-wide setting.
func RaiseNofile(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return nil
	}
	if lim.Max < want {
		lim.Max = want // works as root only
	}
	lim.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", want, err)
	}
	return nil
}
