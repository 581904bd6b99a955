// HAProxy timeout and option directives.

package importer

import (
	"fmt"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

func (m *mapper) timeout(t *target, l hLine, name, val, legacy string) error {
	d, err := m.duration(l.Num, "timeout "+name, val)
	if err != nil {
		return err
	}
	to := &t.common.Timeouts
	var key string
	switch name {
	case "http-request":
		to.HTTPRequest, key = d, "http_request"
	case "http-keep-alive":
		to.HTTPKeepAlive, key = d, "http_keep_alive"
	case "client":
		to.Client, key = d, "client"
	case "server":
		to.Server, key = d, "server"
	case "connect":
		to.Connect, key = d, "connect"
	case "queue":
		to.Queue, key = d, "queue"
	case "tunnel":
		to.Tunnel, key = d, "tunnel"
	case "check":
		to.Check, key = d, "check"
	case "tarpit":
		to.Tarpit, key = d, "tarpit"
	default:
		m.unsupported(t, l, fmt.Sprintf("timeout %s not supported; left out", name))
		return nil
	}
	m.done(t, l, "timeouts."+key)
	if legacy != "" && !t.quiet {
		m.lineComment(keyPath(t.path, "timeouts."+key), legacy)
	}
	return nil
}

var boolOptions = map[string]string{
	"httplog": "httplog", "tcplog": "tcplog", "dontlognull": "dontlognull",
	"http-server-close": "http_server_close", "httpclose": "httpclose",
	"forceclose": "httpclose", "redispatch": "redispatch",
}

func (m *mapper) option(t *target, l hLine, name string, rest []string, on bool) error {
	o := &t.common.Options
	if key, ok := boolOptions[name]; ok {
		if len(rest) > 0 {
			m.unsupported(t, l, fmt.Sprintf("arguments %q not supported; option mapped without them", strings.Join(rest, " ")))
		}
		v := boolp(on)
		switch key {
		case "httplog":
			o.HTTPLog = v
		case "tcplog":
			o.TCPLog = v
		case "dontlognull":
			o.DontLogNull = v
		case "http_server_close":
			o.HTTPServerClose = v
		case "httpclose":
			o.HTTPClose = v
		case "redispatch":
			o.Redispatch = v
		}
		m.done(t, l, "options."+key)
		if name == "forceclose" && !t.quiet {
			m.note(l.Num, "option forceclose", keyPath(t.path, "options.httpclose"), "mapped to httpclose: lbd closes both sides after each response")
		}
		return nil
	}
	switch name {
	case "forwardfor":
		if !on {
			o.ForwardFor = &config.ForwardFor{Disabled: true}
			m.done(t, l, "options.forwardfor")
			return nil
		}
		ff := &config.ForwardFor{}
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "except", "header":
				if i+1 >= len(rest) {
					return m.errf(l.Num, "option forwardfor: %q needs a value", rest[i])
				}
				if rest[i] == "except" {
					ff.Except = append(ff.Except, rest[i+1])
				} else {
					ff.Header = rest[i+1]
				}
				i++
			case "if-none":
				ff.IfNone = true
			default:
				return m.errf(l.Num, "option forwardfor: unknown argument %q (want except NET, header NAME, if-none)", rest[i])
			}
		}
		if ff.Header == "" {
			ff.Header = "X-Forwarded-For" // HAProxy's default, written so the key is never empty
		}
		o.ForwardFor = ff
		m.done(t, l, "options.forwardfor")
	case "httpchk":
		hc := &config.HealthCheck{Type: "http"}
		if !on {
			hc = &config.HealthCheck{Type: "tcp"}
		} else {
			switch len(rest) {
			case 0:
			case 1:
				hc.URI = rest[0]
			default:
				hc.Method, hc.URI = rest[0], rest[1]
				if len(rest) > 2 {
					ver := strings.Join(rest[2:], " ")
					// HAProxy 1.4 idiom: "HTTP/1.1\r\nHost:\ www" adds headers.
					if i := strings.Index(ver, "\r\n"); i >= 0 {
						hdrs := ver[i+2:]
						ver = ver[:i]
						for _, h := range strings.Split(hdrs, "\r\n") {
							k, v, ok := strings.Cut(h, ":")
							switch {
							case h == "":
							case ok && strings.EqualFold(strings.TrimSpace(k), "host"):
								hc.Host = strings.TrimSpace(v)
							default:
								m.unsupported(t, l, fmt.Sprintf("check header %q not supported (only Host); left out", h))
							}
						}
					}
					hc.Version = ver
				}
			}
		}
		return m.setHealthCheck(t, l, func(dst *config.HealthCheck) {
			expect := dst.Expect
			*dst = *hc
			dst.Expect = expect
		})
	case "http-keep-alive":
		if on {
			o.HTTPClose, o.HTTPServerClose = boolp(false), boolp(false)
			m.done(t, l, "options.httpclose")
			if !t.quiet {
				m.note(l.Num, "option http-keep-alive", t.path, "lbd keeps connections alive on both sides unless httpclose/http_server_close is set; mapped to both false")
			}
			return nil
		}
		m.unsupported(t, l, "")
	case "ssl-hello-chk", "mysql-check", "pgsql-check", "redis-check", "smtpchk", "ldap-check", "tcp-check", "external-check", "spop-check":
		m.unsupported(t, l, "this check type is not supported; servers with `check` get a TCP connect check; left out")
	default:
		if knownOptions[name] {
			m.unsupported(t, l, "")
		} else {
			m.unsupported(t, l, "unknown option, not supported; left out")
		}
	}
	return nil
}
