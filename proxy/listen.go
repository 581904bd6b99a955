package proxy

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenTCP binds key ("tcp4|addr:port") with IP_FREEBIND (IPV6_FREEBIND),
// so a VIP this node does not hold yet can be bound regardless of the
// ip_nonlocal_bind sysctl.
func listenTCP(ctx context.Context, key string) (*net.TCPListener, error) {
	network, addr := splitBindKey(key)
	// KeepAlive -1: no TCP keepalive on accepted connections (HAProxy's
	// default without option clitcpka); idle clients are bounded by
	// timeouts instead.
	lc := net.ListenConfig{KeepAlive: -1, Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if network == "tcp6" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return l.(*net.TCPListener), nil
}
