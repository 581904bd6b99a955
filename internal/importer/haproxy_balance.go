// HAProxy balance and cookie (persistence) directives.

package importer

import (
	"fmt"

	"github.com/lbd-ha/lbd/internal/config"
)

func (m *mapper) balance(t *target, l hLine) error {
	if err := needArgs(m, l, 1, "balance ALGORITHM"); err != nil {
		return err
	}
	algo := l.Args[1]
	var dst *string
	switch {
	case t.def != nil:
		dst = &t.def.Balance
	case t.be != nil:
		dst = &t.be.Balance
	default:
		m.notHere(t, l)
		return nil
	}
	switch algo {
	case "roundrobin", "leastconn", "source", "first":
		*dst = algo
		m.done(t, l, "balance")
		if len(l.Args) > 2 {
			m.unsupported(t, l, "arguments after the algorithm are not supported; left out")
		}
	case "static-rr":
		*dst = "roundrobin"
		m.done(t, l, "balance")
		if !t.quiet {
			m.note(l.Num, "balance", keyPath(t.path, "balance"), "static-rr mapped to roundrobin (weights are honoured the same way)")
		}
	default:
		m.unsupported(t, l, fmt.Sprintf("balance %s not supported (roundrobin, leastconn, source, first are); left out, lbd uses roundrobin", algo))
	}
	return nil
}

func (m *mapper) cookie(t *target, l hLine) error {
	if t.be == nil {
		if t.def != nil && t.kind == "defaults" {
			if t.path != "" {
				m.pushdown = append(m.pushdown, l)
				m.note(l.Num, "cookie", t.path, "lbd's defaults have no cookie: written into each backend and listen section instead")
			}
			return nil
		}
		m.notHere(t, l)
		return nil
	}
	a := l.Args
	if len(a) < 2 {
		return m.errf(l.Num, "cookie: missing cookie name")
	}
	c := &config.Cookie{Name: a[1]}
	for i := 2; i < len(a); i++ {
		switch w := a[i]; w {
		case "insert", "rewrite", "prefix":
			c.Mode = w
		case "indirect":
			c.Indirect = true
		case "nocache":
			c.NoCache = true
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		case "preserve":
			c.Preserve = true
		case "domain":
			if i+1 >= len(a) {
				return m.errf(l.Num, "cookie: domain needs a value")
			}
			i++
			if c.Domain != "" {
				m.unsupported(t, l, fmt.Sprintf("only one domain is supported; domain %s left out", a[i]))
				continue
			}
			c.Domain = a[i]
		case "maxidle", "maxlife", "attr", "dynamic":
			if w != "dynamic" {
				i++
			}
			m.unsupported(t, l, fmt.Sprintf("cookie option %s not supported; left out", w))
		case "postonly":
			m.unsupported(t, l, "cookie option postonly not supported; left out")
		default:
			return m.errf(l.Num, "cookie: unknown option %q", w)
		}
	}
	t.be.Cookie = c
	m.done(t, l, "cookie")
	return nil
}
