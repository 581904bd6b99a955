// HAProxy bind lines.

package importer

import (
	"fmt"
	"strings"
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
	var dst *[]string
	switch {
	case t.stats != nil:
		dst = &t.stats.Bind
	case t.fe != nil:
		dst = &t.fe.Bind
	default:
		m.notHere(t, l)
		return nil
	}
	if t.quiet {
		return nil
	}
	before := len(*dst)
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
		idx := len(*dst)
		*dst = append(*dst, addr)
		m.done(t, l, fmt.Sprintf("bind[%d]", idx))
		l.Head, l.Trailing = nil, ""
	}
	rest := l.Args[2:]
	m.acceptProxy(t, l, before)
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		if w == "accept-proxy" && t.fe != nil && t.stats == nil {
			continue // acceptProxy
		}
		if bindParamsWithArg[w] && i+1 < len(rest) {
			i++
			m.unsupported(t, l, fmt.Sprintf("bind option %s %s not supported; left out", w, rest[i]))
			continue
		}
		m.unsupported(t, l, fmt.Sprintf("bind option %s not supported; left out", w))
	}
	return nil
}
