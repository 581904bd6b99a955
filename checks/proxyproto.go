package checks

import (
	"fmt"
	"net"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// writeProxyHeader sends the PROXY protocol header a check starts with
// (check-send-proxy): v1 names the check connection's own addresses, v2
// uses the LOCAL command, which the specification reserves for
// connections a proxy makes itself, such as health checks.
func writeProxyHeader(c net.Conn, ver int, deadline time.Time) error {
	h := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	if ver == 1 {
		h = proxyproto.HeaderProxyFromAddrs(1, c.LocalAddr(), c.RemoteAddr())
	}
	b, err := h.Format()
	if err != nil {
		return fmt.Errorf("PROXY protocol header: %w", err)
	}
	c.SetWriteDeadline(deadline)
	defer c.SetWriteDeadline(time.Time{})
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("sending the PROXY protocol header: %w", err)
	}
	return nil
}
