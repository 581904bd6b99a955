// HAProxy server and default-server lines and their addresses.

package importer

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// serverParam describes a server/default-server keyword.
type serverParam struct {
	arg       bool // takes a value
	supported bool
}

var serverParams = map[string]serverParam{
	"check": {false, true}, "cookie": {true, true}, "inter": {true, true}, "fastinter": {true, true},
	"downinter": {true, true}, "rise": {true, true}, "fall": {true, true}, "weight": {true, true},
	"backup": {false, true}, "maxconn": {true, true}, "maxqueue": {true, true}, "disabled": {false, true},
	"enabled": {false, true}, "port": {true, true}, "addr": {true, true}, "on-marked-down": {true, true},
	"no-check": {false, true}, "no-backup": {false, true},
	// known, not supported
	"id": {true, false}, "slowstart": {true, false}, "observe": {true, false}, "error-limit": {true, false},
	"on-error": {true, false}, "on-marked-up": {true, false}, "redir": {true, false}, "track": {true, false},
	"minconn": {true, false}, "source": {true, false}, "ssl": {false, true}, "verify": {true, true},
	"sni": {true, true}, "ca-file": {true, true}, "crt": {true, true}, "send-proxy": {false, true},
	"no-ssl": {false, true}, "no-check-ssl": {false, true}, "no-verifyhost": {false, false}, "verifyhost": {true, true},
	"ssl-min-ver": {true, false}, "ssl-max-ver": {true, false}, "ciphers": {true, false}, "no-ssl-reuse": {false, false},
	"no-tlsv13": {false, false}, "no-tlsv12": {false, false}, "force-tlsv12": {false, false}, "force-tlsv13": {false, false},
	"send-proxy-v2": {false, true}, "check-send-proxy": {false, true}, "agent-check": {false, false},
	"agent-port": {true, false}, "agent-inter": {true, false}, "agent-addr": {true, false},
	"resolvers": {true, false}, "init-addr": {true, false}, "resolve-prefer": {true, false},
	"check-ssl": {false, true}, "alpn": {true, true}, "proto": {true, false}, "pool-max-conn": {true, false},
	"pool-purge-delay": {true, false}, "tfo": {false, false}, "namespace": {true, false},
	"check-sni": {true, true}, "ws": {true, false}, "max-reuse": {true, false}, "tcp-ut": {true, false},
	"non-stick": {false, false}, "stick": {false, false}, "usesrc": {true, false}, "proxy-v2-options": {true, false},
}

// serverOptions applies server keywords to s (and sd, the settings a
// default-server line may carry).
func (m *mapper) serverOptions(t *target, l hLine, who string, args []string, s *config.Server, sd *config.ServerDefaults) error {
	// TLS to the server: ssl/no-ssl and the settings, applied at the end
	// (verify, ca-file, sni and crt matter only once ssl is on).
	var sslOn *bool
	var tlsSet config.ServerSSL
	for i := 0; i < len(args); i++ {
		w := args[i]
		p, ok := serverParams[w]
		if !ok {
			if !t.quiet {
				m.warnf(l.Num, l.Args[0]+" "+w, t.path, "%s: unknown server option, not supported; left out", who)
			}
			continue
		}
		var v string
		if p.arg {
			if i+1 >= len(args) {
				return m.errf(l.Num, "%s: %q needs a value", who, w)
			}
			i++
			v = args[i]
		}
		if !p.supported {
			if !t.quiet {
				why := "not supported"
				if serverTLSOptions[w] {
					why = "(TLS to servers) not supported: lbd speaks TLS 1.2 or 1.3 with Go's defaults, verifying the name against the SNI"
				}
				m.warnf(l.Num, l.Args[0]+" "+w, t.path, "%s: server option %s %s; left out", who, w, why)
			}
			continue
		}
		var err error
		switch w {
		case "ssl":
			sslOn = boolp(true)
			continue
		case "no-ssl":
			sslOn = boolp(false)
			continue
		case "verify":
			if v != "none" && v != "required" {
				return m.errf(l.Num, "%s: verify %q (none or required)", who, v)
			}
			tlsSet.Verify = v
			continue
		case "ca-file":
			tlsSet.CAFile = v
			continue
		case "verifyhost":
			tlsSet.VerifyHost = v
			continue
		case "crt":
			tlsSet.Crt = v
			continue
		case "sni":
			if _, _, err := config.ParseSNI(v); err != nil {
				if !t.quiet {
					m.warnf(l.Num, l.Args[0]+" sni", t.path, "%s: %v; left out (no SNI is sent)", who, err)
				}
				continue
			}
			tlsSet.SNI = v
			continue
		case "check-ssl":
			sd.CheckSSL = boolp(true)
			continue
		case "no-check-ssl":
			sd.CheckSSL = boolp(false)
			continue
		case "check-sni":
			sd.CheckSNI = v
			continue
		case "alpn":
			if v != "http/1.1" && !t.quiet {
				m.warnf(l.Num, l.Args[0]+" alpn", t.path, "%s: alpn %s: lbd speaks HTTP/1.1 to servers and offers http/1.1 only; left out", who, v)
			}
			continue
		case "inter":
			sd.Inter, err = m.duration(l.Num, who+" inter", v)
		case "fastinter":
			sd.FastInter, err = m.duration(l.Num, who+" fastinter", v)
		case "downinter":
			sd.DownInter, err = m.duration(l.Num, who+" downinter", v)
		case "rise":
			sd.Rise, err = m.atoi(l.Num, who+" rise", v, 1, 1000)
		case "fall":
			sd.Fall, err = m.atoi(l.Num, who+" fall", v, 1, 1000)
		case "maxconn":
			sd.Maxconn, err = m.atoi(l.Num, who+" maxconn", v, 0, 100000000)
		case "maxqueue":
			sd.Maxqueue, err = m.atoi(l.Num, who+" maxqueue", v, 0, 100000000)
		case "on-marked-down":
			if v != "shutdown-sessions" {
				if !t.quiet {
					m.warnf(l.Num, l.Args[0]+" on-marked-down", t.path, "%s: on-marked-down %s not supported (shutdown-sessions is); left out", who, v)
				}
				continue
			}
			sd.OnMarkedDown = v
		default:
			if s == nil {
				if !t.quiet {
					m.warnf(l.Num, l.Args[0]+" "+w, t.path, "%s: %s is set per server in lbd; left out of default-server", who, w)
				}
				continue
			}
			switch w {
			case "check":
				s.Check = true
			case "no-check":
				s.Check = false
			case "backup":
				s.Backup = true
			case "no-backup":
				s.Backup = false
			case "disabled":
				s.Disabled = true
			case "enabled":
				s.Disabled = false
			case "cookie":
				s.Cookie = v
			case "send-proxy":
				s.SendProxy = "v1"
			case "send-proxy-v2":
				s.SendProxy = "v2"
			case "check-send-proxy":
				s.CheckSendProxy = true
			case "weight":
				var n int
				n, err = m.atoi(l.Num, who+" weight", v, 0, 256)
				s.Weight = intp(n)
			case "port":
				s.CheckPort, err = m.atoi(l.Num, who+" port", v, 1, 65535)
			case "addr":
				if net.ParseIP(v) == nil {
					return m.errf(l.Num, "%s: addr %q is not an IP address", who, v)
				}
				s.CheckAddr = v
			}
		}
		if err != nil {
			return err
		}
	}
	m.serverTLS(t, l, who, s == nil, sslOn, tlsSet, sd)
	return nil
}

// serverTLS applies a server or default-server line's TLS words to sd:
// ssl turns TLS on with the settings of the line over those inherited;
// settings without ssl on a default-server line wait for servers that
// turn it on (HAProxy applies them only to ssl servers); on a server
// line without ssl they only matter for check-ssl, which lbd runs with
// the server's ssl block: left out with a warning.
func (m *mapper) serverTLS(t *target, l hLine, who string, isDefault bool, on *bool, set config.ServerSSL, sd *config.ServerDefaults) {
	merge := func(dst *config.ServerSSL, src config.ServerSSL) {
		if src.Verify != "" {
			dst.Verify = src.Verify
		}
		if src.CAFile != "" {
			dst.CAFile = src.CAFile
		}
		if src.SNI != "" {
			dst.SNI = src.SNI
		}
		if src.VerifyHost != "" {
			dst.VerifyHost = src.VerifyHost
		}
		if src.Crt != "" {
			dst.Crt = src.Crt
		}
	}
	switch {
	case on != nil && !*on:
		sd.SSL = nil
		switch {
		case isDefault && t.def != nil:
			m.defSSLOn = false
		case m.defSSLOn:
			// defaults' default_server has ssl, which lbd.yaml merges
			// into every server: turn it off explicitly.
			sd.SSL = &config.ServerSSL{Enabled: boolp(false)}
		}
		return
	case on != nil || sd.SSL != nil:
		var out config.ServerSSL // a fresh copy: servers share their defaults' block
		if sd.SSL != nil {
			out = *sd.SSL
			if on != nil {
				out.Enabled = nil // ssl over a section's no-ssl
			}
		} else {
			// Settings of earlier default-server lines without ssl.
			merge(&out, m.defSSL)
			merge(&out, t.srvSSL)
		}
		merge(&out, set)
		sd.SSL = &out
		if isDefault && t.def != nil {
			m.defSSLOn = true
		}
		return
	case set == config.ServerSSL{}:
		return
	case isDefault:
		if t.def != nil {
			merge(&m.defSSL, set)
		} else {
			merge(&t.srvSSL, set)
		}
	case m.defSSLOn:
		// ssl comes from defaults' default_server: lbd.yaml merges
		// this server's settings over it.
		sd.SSL = &set
	default:
		if !t.quiet {
			m.warnf(l.Num, l.Args[0], t.path, "%s: verify/ca-file/sni/crt without ssl: the server is spoken to in plain TCP; left out", who)
		}
	}
}

func (m *mapper) defaultServer(t *target, l hLine) error {
	if t.be == nil && t.def == nil {
		m.notHere(t, l)
		return nil
	}
	sd := &t.srvDefaults
	if t.def != nil {
		if t.def.DefaultServer == nil {
			t.def.DefaultServer = &config.ServerDefaults{}
		}
		sd = t.def.DefaultServer
	}
	if err := m.serverOptions(t, l, "default-server", l.Args[1:], nil, sd); err != nil {
		return err
	}
	if t.def != nil {
		m.done(t, l, "default_server")
	} else if !t.quiet {
		m.comments(t.path, l)
		m.note(l.Num, "default-server", t.path, "lbd has default_server only in defaults: these settings are written into each server line below")
	}
	return nil
}

// serverKeywordLike reports whether w is a server option, i.e. the address
// is missing.
func serverKeywordLike(w string) bool {
	_, ok := serverParams[w]
	return ok
}

func (m *mapper) server(t *target, l hLine) error {
	if t.be == nil {
		m.notHere(t, l)
		return nil
	}
	a := l.Args
	if len(a) < 2 {
		return m.errf(l.Num, "server: missing name and address (usage: server NAME ADDRESS:PORT [options])")
	}
	name := a[1]
	if err := checkName(name); err != nil {
		return m.errf(l.Num, "server %q: %v", name, err)
	}
	who := "server " + name
	if len(a) < 3 || serverKeywordLike(a[2]) {
		return m.errf(l.Num, "%s: missing address (usage: server NAME ADDRESS:PORT [options])", who)
	}
	for _, s := range t.be.Servers {
		if s.Name == name {
			return m.errf(l.Num, "%s: a server with this name already exists in %s %s", who, t.kind, t.name)
		}
	}
	addr, hasPort, err := normaliseAddress(a[2])
	if err != nil {
		return m.errf(l.Num, "%s: %v", who, err)
	}
	s := config.Server{Name: name, Address: addr}
	s.ServerDefaults = t.srvDefaults
	if err := m.serverOptions(t, l, who, a[3:], &s, &s.ServerDefaults); err != nil {
		return err
	}
	idx := len(t.be.Servers)
	t.be.Servers = append(t.be.Servers, s)
	path := fmt.Sprintf("servers[%d]", idx)
	m.done(t, l, path)
	if !hasPort && !t.quiet {
		m.warnf(l.Num, "server", keyPath(t.path, path), "%s: no port; HAProxy reuses the client's destination port, lbd needs ADDRESS:PORT: add the port", who)
	}
	return nil
}

// normaliseAddress turns HAProxy's server address forms into HOST:PORT
// (IPv6 in brackets). hasPort is false when no port was given.
func normaliseAddress(s string) (addr string, hasPort bool, err error) {
	for _, p := range []string{"ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"} {
		s = strings.TrimPrefix(s, p)
	}
	if s == "" {
		return "", false, fmt.Errorf("empty address")
	}
	if strings.HasPrefix(s, "/") || strings.Contains(s, "@") {
		return "", false, fmt.Errorf("address %q: unix sockets and address families other than IPv4/IPv6 are not supported", s)
	}
	if strings.HasPrefix(s, "[") {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			if strings.HasSuffix(s, "]") {
				return s, false, nil
			}
			return "", false, fmt.Errorf("address %q: %v", s, err)
		}
		return net.JoinHostPort(host, port), port != "", checkPort(port)
	}
	if strings.Count(s, ":") > 1 { // bare IPv6: HAProxy takes the last colon as the port separator
		i := strings.LastIndexByte(s, ':')
		if net.ParseIP(s[:i]) == nil {
			return "", false, fmt.Errorf("address %q: not an IPv6 address with a port (write [ADDR]:PORT)", s)
		}
		return net.JoinHostPort(s[:i], s[i+1:]), true, checkPort(s[i+1:])
	}
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return s, false, nil
	}
	if host == "" {
		return "", false, fmt.Errorf("address %q has no host", s)
	}
	return s, true, checkPort(port)
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q", p)
	}
	return nil
}
