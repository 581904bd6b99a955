package importer

// HAProxy's TLS directives: bind ... ssl crt ... (bindSSL), redirect scheme
// (redirect), conditions with anonymous ACLs such as !{ ssl_fc }
// (checkCond), and the server options of TLS to servers (not yet).

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// bindSSLWords are the ssl-default-bind-options words a bind line may
// carry (docs/tls.md); they go to ssl.options.
var bindSSLWords = map[string]bool{
	"no-sslv3": true, "no-tlsv10": true, "no-tlsv11": true, "no-tlsv12": true, "no-tlsv13": true,
	"force-tlsv12": true, "force-tlsv13": true, "no-tls-tickets": true, "prefer-client-ciphers": true,
}

// bindSSL maps the options of a bind line; it returns the ssl block when
// the line has "ssl", nil otherwise. What lbd cannot honour is a WARNING.
func (m *mapper) bindSSL(t *target, l hLine, rest []string) (*config.BindSSL, error) {
	s := &config.BindSSL{}
	isSSL, protoH2 := false, false
	for i := 0; i < len(rest); i++ {
		if rest[i] == "proto" && i+1 < len(rest) && rest[i+1] == "h2" && slices.Contains(rest, "ssl") {
			// On a TLS bind lbd chooses HTTP/2 by ALPN: offered below.
			protoH2 = true
			i++
			continue
		}
		if m.bindProto(t, l, rest, &i) {
			continue
		}
		w := rest[i]
		arg := ""
		if bindParamsWithArg[w] || w == "default-crt" {
			if i+1 >= len(rest) {
				return nil, m.errf(l.Num, "bind: %s needs an argument", w)
			}
			i++
			arg = rest[i]
		}
		switch w {
		case "ssl":
			isSSL = true
		case "crt":
			s.Crt = append(s.Crt, arg)
		case "default-crt":
			s.DefaultCrt = arg
		case "strict-sni":
			s.StrictSNI = true
		case "alpn":
			for _, p := range strings.Split(arg, ",") {
				if p == "h2" || p == "http/1.1" {
					s.ALPN = append(s.ALPN, p)
				} else {
					m.unsupported(t, l, fmt.Sprintf("alpn protocol %q not supported (h2, http/1.1); left out", p))
				}
			}
		case "ciphers":
			s.Ciphers = arg
		case "ssl-min-ver":
			s.MinVersion = arg
		case "ssl-max-ver":
			s.MaxVersion = arg
		case "ca-file":
			s.CAFile = arg
		case "verify":
			s.Verify = arg
		case "accept-proxy":
			// mapped (or warned about) by acceptProxy
		case "ciphersuites":
			m.unsupported(t, l, "ciphersuites (TLS 1.3 suites) cannot be configured in lbd (Go's crypto/tls picks them); left out")
		default:
			switch {
			case bindSSLWords[w]:
				s.Options = append(s.Options, w)
			case arg != "":
				m.unsupported(t, l, fmt.Sprintf("bind option %s %s not supported; left out", w, arg))
			default:
				m.unsupported(t, l, fmt.Sprintf("bind option %s not supported; left out", w))
			}
		}
	}
	if !isSSL {
		if len(s.Crt) > 0 {
			m.unsupported(t, l, "crt without ssl: the bind is plain TCP, as in HAProxy; crt left out")
		}
		return nil, nil
	}
	if len(s.Crt) == 0 {
		return nil, m.errf(l.Num, "bind: ssl needs at least one crt FILE|DIR")
	}
	if protoH2 {
		if !slices.Contains(s.ALPN, "h2") {
			s.ALPN = append([]string{"h2"}, s.ALPN...)
		}
		if !t.quiet {
			m.note(l.Num, "proto h2", keyPath(t.path, "bind"), "on an ssl bind lbd speaks HTTP/2 to clients that offer h2 by ALPN (curl --http2, browsers): mapped to ssl.alpn with h2 first")
		}
	}
	return s, nil
}

// checkCond checks the words of an if/unless condition: named ACLs must be
// declared (and not left out); anonymous ACLs { CRITERION [VALUE...] } must
// use a supported criterion. false: the directive is left out (warned).
func (m *mapper) checkCond(t *target, l hLine, cond []string, what string) (bool, error) {
	words := strings.Fields(strings.NewReplacer("{", " { ", "}", " } ").Replace(strings.Join(cond, " ")))
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "{" {
			j := i + 1
			for j < len(words) && words[j] != "}" {
				j++
			}
			if j == len(words) || j == i+1 {
				return false, m.errf(l.Num, "%s: unterminated or empty { }", what)
			}
			if crit := words[i+1]; !supportedCriteria[crit] || strings.HasPrefix(crit, "hdr") {
				m.unsupported(t, l, fmt.Sprintf("anonymous acl { %s } not supported: declare a named acl; %s left out", strings.Join(words[i+1:j], " "), what))
				return false, nil
			}
			i = j
			continue
		}
		n := strings.TrimLeft(w, "!")
		if n == "" {
			continue
		}
		if t.droppedACLs[n] {
			m.unsupported(t, l, fmt.Sprintf("uses acl %s, which was left out; %s left out", n, what))
			return false, nil
		}
		if w != "or" && w != "||" && !t.quiet && !aclDeclared(t.fe.ACLs, n) && !predefinedACL[n] {
			return false, m.errf(l.Num, "%s: acl %q is not declared in this section", what, n)
		}
	}
	return true, nil
}

// redirect maps `redirect scheme SCHEME [code N] [if|unless COND]`; the
// location and prefix forms and the other options are WARNINGs.
func (m *mapper) redirect(t *target, l hLine) error {
	if t.fe == nil {
		m.notHere(t, l)
		return nil
	}
	a := l.Args
	if len(a) < 3 {
		return m.errf(l.Num, "redirect: want redirect scheme SCHEME [code N] [if|unless COND]")
	}
	if a[1] != "scheme" {
		m.unsupported(t, l, fmt.Sprintf("redirect %s not supported (only redirect scheme is); left out", a[1]))
		return nil
	}
	r := config.Redirect{Scheme: a[2]}
	rest := a[3:]
	for len(rest) > 0 && rest[0] != "if" && rest[0] != "unless" {
		switch rest[0] {
		case "code":
			if len(rest) < 2 {
				return m.errf(l.Num, "redirect: code needs a value")
			}
			n, err := m.atoi(l.Num, "redirect code", rest[1], 301, 308)
			if err != nil {
				return err
			}
			r.Code = n
			rest = rest[2:]
		default:
			m.unsupported(t, l, fmt.Sprintf("redirect option %s not supported; left out (the redirect is kept)", rest[0]))
			rest = rest[1:]
		}
	}
	if len(rest) > 0 {
		if len(rest) < 2 {
			return m.errf(l.Num, "redirect: empty condition")
		}
		if ok, err := m.checkCond(t, l, rest[1:], "redirect"); !ok || err != nil {
			return err
		}
		c := strings.Join(rest[1:], " ")
		if rest[0] == "if" {
			r.If = c
		} else {
			r.Unless = c
		}
	}
	if t.quiet {
		return nil
	}
	idx := len(t.fe.Redirects)
	t.fe.Redirects = append(t.fe.Redirects, r)
	m.done(t, l, fmt.Sprintf("redirects[%d]", idx))
	return nil
}

// serverTLSOptions are the TLS-to-server keywords lbd does not take.
var serverTLSOptions = map[string]bool{"no-verifyhost": true, "ssl-min-ver": true, "ssl-max-ver": true,
	"ciphers": true, "no-ssl-reuse": true, "no-tlsv12": true, "no-tlsv13": true, "force-tlsv12": true, "force-tlsv13": true}
