// HAProxy bind lines.

package importer

import (
	"fmt"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

var bindParamsWithArg = map[string]bool{
	"name": true, "maxconn": true, "crt": true, "ca-file": true, "interface": true, "mss": true,
	"backlog": true, "process": true, "level": true, "mode": true, "user": true, "group": true,
	"uid": true, "gid": true, "alpn": true, "npn": true, "ciphers": true, "ciphersuites": true,
	"ssl-min-ver": true, "ssl-max-ver": true, "verify": true, "id": true, "nice": true, "namespace": true,
	"thread": true, "tcp-ut": true, "crl-file": true, "curves": true, "ecdhe": true, "proto": true,
	"accept-netscaler-cip": true, "severity-output": true, "quic-cc-algo": true, "label": true,
}

func (m *mapper) bind(t *target, l hLine) error {
	if err := needArgs(m, l, 1, "bind ADDRESS:PORT[,...] [options]"); err != nil {
		return err
	}
	if t.stats == nil && t.fe == nil {
		m.notHere(t, l)
		return nil
	}
	if t.quiet {
		return nil
	}
	var before int
	if t.stats != nil {
		before = len(t.stats.Bind)
	} else {
		before = len(t.fe.Bind)
	}
	var addrs []string
	for _, addr := range strings.Split(l.Args[1], ",") {
		for _, p := range []string{"ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"} {
			addr = strings.TrimPrefix(addr, p)
		}
		i := strings.LastIndexByte(addr, ':')
		if i < 0 || strings.HasPrefix(addr, "/") || strings.Contains(addr, "@") {
			return m.errf(l.Num, "bind: address %q: want ADDRESS:PORT (unix sockets are not supported)", addr)
		}
		port := addr[i+1:]
		if host := addr[:i]; strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			addr = "[" + host + "]:" + port // bare IPv6 (":::80") as lbd wants it
		}
		if strings.Contains(port, "-") {
			m.unsupported(t, l, fmt.Sprintf("port range %s not supported; bind %s left out", port, addr))
			continue
		}
		if err := checkPort(port); err != nil {
			return m.errf(l.Num, "bind: address %q: %v", addr, err)
		}
		addrs = append(addrs, addr)
	}
	ssl, err := m.bindSSL(t, l, l.Args[2:])
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		var idx int
		if t.stats != nil {
			if ssl != nil {
				m.unsupported(t, l, "ssl on a stats-only listen is not supported; bind "+addr+" is plain HTTP")
			}
			idx = len(t.stats.Bind)
			t.stats.Bind = append(t.stats.Bind, addr)
		} else {
			idx = len(t.fe.Bind)
			b := config.Bind{Address: addr}
			if ssl != nil {
				cp := *ssl
				b.SSL = &cp
			}
			t.fe.Bind = append(t.fe.Bind, b)
		}
		m.done(t, l, fmt.Sprintf("bind[%d]", idx))
		l.Head, l.Trailing = nil, ""
	}
	m.acceptProxy(t, l, before)
	return nil
}
