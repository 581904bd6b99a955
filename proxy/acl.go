package proxy

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/lbd-ha/lbd/proxy/h1"
)

type aclKind uint8

const (
	aclPath aclKind = iota
	aclPathBeg
	aclPathEnd
	aclPathReg
	aclPathDir
	aclPathSub
	aclHdr
	aclHdrBeg
	aclHdrEnd
	aclHdrSub
	aclHdrReg
	aclMethod
	aclSrc
	aclSSLFc         // ssl_fc: the connection is TLS (no values)
	aclSSLFcSNI      // ssl_fc_sni: the SNI the client sent
	aclSSLFcProtocol // ssl_fc_protocol: "TLSv1.2", "TLSv1.3"
	aclVar           // var(txn.NAME): exact string match
	aclInt           // an integer fetch (stick counters) compared with gt/ge/lt/le/eq
)

// acl is one compiled `acl NAME CRITERION [-i] VALUE...` line.
type acl struct {
	kind  aclKind
	hdr   string // header name for hdr* criteria
	icase bool
	vals  [][]byte // lower-cased when icase
	res   []*regexp.Regexp
	nets  []netip.Prefix
	vr    int      // aclVar: the variable's index
	intF  intFetch // aclInt
	intOp intOp
	ints  []int64
}

// matchCtx is what ACLs look at; it never allocates.
type matchCtx struct {
	req  *h1.Request // nil in tcp mode
	path []byte      // the request path, normalised unless NormalizeOff
	src  netip.Addr
	tls  *tlsState  // nil: plain connection
	rs   *ruleState // variables and request trackers; nil outside http rules
	ct   *connTrack // connection trackers; may be nil
}

// requestPath returns the path part of a request target: from the first
// slash to before the '?', with an absolute-form scheme://authority removed.
func requestPath(uri []byte) []byte {
	if len(uri) > 0 && uri[0] != '/' {
		if i := bytes.Index(uri, []byte("://")); i > 0 {
			rest := uri[i+3:]
			j := bytes.IndexByte(rest, '/')
			if j < 0 {
				return nil
			}
			uri = rest[j:]
		}
	}
	if q := bytes.IndexByte(uri, '?'); q >= 0 {
		uri = uri[:q]
	}
	return uri
}

var aclCriteria = map[string]aclKind{
	"path": aclPath, "path_beg": aclPathBeg, "path_end": aclPathEnd, "path_reg": aclPathReg,
	"path_dir": aclPathDir, "path_sub": aclPathSub,
	"hdr": aclHdr, "hdr_beg": aclHdrBeg, "hdr_end": aclHdrEnd, "hdr_sub": aclHdrSub, "hdr_reg": aclHdrReg,
	"method": aclMethod, "src": aclSrc,
	"ssl_fc": aclSSLFc, "ssl_fc_sni": aclSSLFcSNI, "ssl_fc_protocol": aclSSLFcProtocol,
}

func compileACL(a ACL) (*acl, error) { return compileACLIn(a, nil) }

// compileACLIn compiles an ACL; env resolves variables and stick tables
// (nil: neither is known).
func compileACLIn(a ACL, env *aclEnv) (*acl, error) {
	crit := strings.TrimSpace(a.Criterion)
	if c, ok, err := compileExtACL(a, crit, env); ok || err != nil {
		return c, err
	}
	var hdr string
	if i := strings.IndexByte(crit, '('); i >= 0 {
		if !strings.HasSuffix(crit, ")") {
			return nil, fmt.Errorf("acl %s: malformed criterion %q", a.Name, a.Criterion)
		}
		hdr = strings.ToLower(strings.TrimSpace(crit[i+1 : len(crit)-1]))
		crit = crit[:i]
	}
	kind, ok := aclCriteria[crit]
	if !ok {
		return nil, fmt.Errorf("acl %s: unknown criterion %q (known: path, path_beg, path_end, path_reg, path_dir, path_sub, hdr(NAME), hdr_beg(NAME), hdr_end(NAME), hdr_sub(NAME), hdr_reg(NAME), method, src)", a.Name, a.Criterion)
	}
	isHdr := kind >= aclHdr && kind <= aclHdrReg
	if isHdr && hdr == "" {
		return nil, fmt.Errorf("acl %s: %s needs a header name, e.g. %s(host)", a.Name, crit, crit)
	}
	if !isHdr && hdr != "" {
		return nil, fmt.Errorf("acl %s: %s takes no argument", a.Name, crit)
	}
	if kind == aclSSLFc {
		if len(a.Values) > 0 {
			return nil, fmt.Errorf("acl %s: ssl_fc takes no values", a.Name)
		}
		return &acl{kind: kind}, nil
	}
	if len(a.Values) == 0 {
		return nil, fmt.Errorf("acl %s: no values", a.Name)
	}
	c := &acl{kind: kind, hdr: hdr, icase: a.IgnoreCase}
	for _, v := range a.Values {
		switch kind {
		case aclSrc:
			p, err := parsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("acl %s: %w", a.Name, err)
			}
			c.nets = append(c.nets, p)
		case aclPathReg, aclHdrReg:
			expr := v
			if a.IgnoreCase {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("acl %s: bad regex %q: %w", a.Name, v, err)
			}
			c.res = append(c.res, re)
		default:
			if a.IgnoreCase {
				v = strings.ToLower(v)
			}
			c.vals = append(c.vals, []byte(v))
		}
	}
	return c, nil
}

// parsePrefix accepts "10.0.0.0/8", "10.1.2.3" or "::1".
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("bad network %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func prefixesContain(nets []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (c *acl) match(m *matchCtx) bool {
	switch c.kind {
	case aclSrc:
		return prefixesContain(c.nets, m.src)
	case aclSSLFc:
		return m.tls != nil
	case aclSSLFcSNI:
		return m.tls != nil && c.matchValue(m.tls.sni)
	case aclSSLFcProtocol:
		return m.tls != nil && c.matchValue(m.tls.version)
	case aclMethod:
		if m.req == nil {
			return false
		}
		return c.matchValue(m.req.Method)
	case aclVar:
		v, ok := m.rs.getVar(c.vr)
		return ok && c.matchValue(v)
	case aclInt:
		v, ok := m.intValue(&c.intF)
		return ok && c.matchInt(v)
	case aclPath, aclPathBeg, aclPathEnd, aclPathReg, aclPathDir, aclPathSub:
		if m.req == nil {
			return false
		}
		return c.matchValue(m.path)
	default:
		if m.req == nil {
			return false
		}
		for i := range m.req.Headers {
			h := &m.req.Headers[i]
			if h1.EqualFold(h.Name, c.hdr) && c.matchValue(h.Value) {
				return true
			}
		}
		return false
	}
}

func (c *acl) matchValue(s []byte) bool {
	if c.res != nil {
		for _, re := range c.res {
			if re.Match(s) {
				return true
			}
		}
		return false
	}
	for _, v := range c.vals {
		if c.matchOne(s, v) {
			return true
		}
	}
	return false
}

func (c *acl) matchOne(s, v []byte) bool {
	switch c.kind {
	case aclPath, aclHdr, aclMethod, aclSSLFcSNI, aclSSLFcProtocol, aclVar:
		return len(s) == len(v) && c.eq(s, v)
	case aclPathBeg, aclHdrBeg:
		return len(s) >= len(v) && c.eq(s[:len(v)], v)
	case aclPathEnd, aclHdrEnd:
		return len(s) >= len(v) && c.eq(s[len(s)-len(v):], v)
	case aclPathSub, aclHdrSub:
		for i := 0; i+len(v) <= len(s); i++ {
			if c.eq(s[i:i+len(v)], v) {
				return true
			}
		}
		return false
	case aclPathDir:
		// v must appear as a whole slash-delimited part of the path.
		for i := 0; i+len(v) <= len(s); i++ {
			if (i == 0 || s[i-1] == '/') && (i+len(v) == len(s) || s[i+len(v)] == '/') && c.eq(s[i:i+len(v)], v) {
				return true
			}
		}
		return false
	}
	return false
}

// eq compares equal-length slices; v is already lower-case when icase.
func (c *acl) eq(s, v []byte) bool {
	if !c.icase {
		return bytes.Equal(s, v)
	}
	for i := range s {
		b := s[i]
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != v[i] {
			return false
		}
	}
	return true
}

// condTerm is one [!]NAME in a condition; the ACL lines sharing NAME are OR-ed.
type condTerm struct {
	acls []*acl
	neg  bool
}

// condition is an OR of AND-groups, optionally inverted (unless).
type condition struct {
	groups [][]condTerm
	unless bool
}

func (c *condition) eval(m *matchCtx) bool {
	res := false
	for _, g := range c.groups {
		ok := true
		for _, t := range g {
			hit := false
			for _, a := range t.acls {
				if a.match(m) {
					hit = true
					break
				}
			}
			if hit == t.neg {
				ok = false
				break
			}
		}
		if ok {
			res = true
			break
		}
	}
	return res != c.unless
}

// compileCondition parses `a b || !c` against the named ACLs.
func compileCondition(expr string, unless bool, named map[string][]*acl) (*condition, error) {
	return compileCond(expr, unless, &aclEnv{named: named})
}

// compileCond parses a condition: named ACLs and anonymous ones written
// `{ CRITERION [-i] VALUE... }` (braces separated by spaces), AND-ed by
// spaces, "||" or "or" for OR, "!" negates the next term.
func compileCond(expr string, unless bool, env *aclEnv) (*condition, error) {
	c := &condition{unless: unless}
	var group []condTerm
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	neg := false
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f == "||" || strings.EqualFold(f, "or") {
			if len(group) == 0 || neg {
				return nil, fmt.Errorf("condition %q: misplaced %q", expr, f)
			}
			c.groups = append(c.groups, group)
			group = nil
			continue
		}
		for strings.HasPrefix(f, "!") {
			neg = !neg
			f = f[1:]
		}
		if f == "" {
			continue
		}
		if f == "{" {
			j := i + 1
			for j < len(fields) && fields[j] != "}" {
				j++
			}
			if j == len(fields) {
				return nil, fmt.Errorf("condition %q: '{' without '}'", expr)
			}
			a := ACL{Name: "{ anonymous }"}
			parts := fields[i+1 : j]
			if len(parts) == 0 {
				return nil, fmt.Errorf("condition %q: empty { }", expr)
			}
			a.Criterion = parts[0]
			for _, v := range parts[1:] {
				if v == "-i" && len(a.Values) == 0 {
					a.IgnoreCase = true
					continue
				}
				a.Values = append(a.Values, v)
			}
			ac, err := compileACLIn(a, env)
			if err != nil {
				return nil, fmt.Errorf("condition %q: %w", expr, err)
			}
			group = append(group, condTerm{acls: []*acl{ac}, neg: neg})
			neg = false
			i = j
			continue
		}
		if strings.HasPrefix(f, "{") || strings.HasSuffix(f, "}") {
			return nil, fmt.Errorf("condition %q: braces must stand apart: { criterion value }", expr)
		}
		acls, ok := env.named[f]
		if !ok {
			return nil, fmt.Errorf("condition %q: unknown acl %q", expr, f)
		}
		group = append(group, condTerm{acls: acls, neg: neg})
		neg = false
	}
	if len(group) == 0 || neg {
		return nil, fmt.Errorf("condition %q: ends with an operator", expr)
	}
	c.groups = append(c.groups, group)
	return c, nil
}
