// HAProxy acl and use_backend directives.

package importer

import (
	"fmt"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// supportedCriteria are the ACL fetches lbd evaluates (see config.ACL).
var supportedCriteria = map[string]bool{
	"path": true, "path_beg": true, "path_end": true, "path_reg": true,
	"hdr": true, "hdr_beg": true, "hdr_end": true, "method": true, "src": true,
	"ssl_fc": true, "ssl_fc_sni": true, "ssl_fc_protocol": true,
}

func (m *mapper) acl(t *target, l hLine) error {
	if t.fe == nil {
		m.notHere(t, l)
		return nil
	}
	a := l.Args
	if len(a) < 3 {
		return m.errf(l.Num, "acl: want acl NAME CRITERION [flags] VALUE...")
	}
	name := a[1]
	if err := checkName(name); err != nil {
		return m.errf(l.Num, "acl %q: %v", name, err)
	}
	crit := a[2]
	acl := config.ACL{Name: name}
	rest := a[3:]
	matchMethod := ""
flags:
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		switch rest[0] {
		case "-i":
			acl.IgnoreCase = true
			rest = rest[1:]
		case "--":
			rest = rest[1:]
			break flags
		case "-m":
			if len(rest) < 2 {
				return m.errf(l.Num, "acl %s: -m needs a match method", name)
			}
			matchMethod = rest[1]
			rest = rest[2:]
		case "-f", "-M", "-u":
			m.unsupported(t, l, fmt.Sprintf("acl %s: flag %s not supported; acl left out", name, rest[0]))
			t.droppedACLs[name] = true
			return nil
		case "-n":
			rest = rest[1:]
		default:
			break flags
		}
	}
	if !supportedCriteria[strings.TrimPrefix(strings.SplitN(crit, "(", 2)[0], "req.")] && config.CheckCriterion(crit, rest) == nil {
		// var(txn.NAME) and the stick-counter fetches (rules.go).
		acl.Criterion = crit
		acl.Values = append([]string(nil), rest...)
		idx := len(t.fe.ACLs)
		t.fe.ACLs = append(t.fe.ACLs, acl)
		m.done(t, l, fmt.Sprintf("acls[%d]", idx))
		return nil
	}
	base, param, hasParam := strings.Cut(crit, "(")
	if hasParam {
		param = strings.TrimSuffix(param, ")")
	}
	base = strings.TrimPrefix(base, "req.")
	if base == "url_beg" || base == "url_end" || base == "url_reg" {
		// url_* differs from path_* only when the request line carries an
		// absolute URI or a query string; keep it visible.
		m.unsupported(t, l, fmt.Sprintf("acl %s: %s not supported (path_* matches the path without the query string); acl left out", name, crit))
		t.droppedACLs[name] = true
		return nil
	}
	if matchMethod != "" {
		switch {
		case matchMethod == "str" && (base == "path" || base == "hdr" || base == "method"):
		case (matchMethod == "beg" || matchMethod == "end" || matchMethod == "reg") && (base == "path" || base == "hdr"):
			base += "_" + matchMethod
		default:
			m.unsupported(t, l, fmt.Sprintf("acl %s: -m %s on %s not supported; acl left out", name, matchMethod, crit))
			t.droppedACLs[name] = true
			return nil
		}
	}
	if !supportedCriteria[base] {
		m.unsupported(t, l, fmt.Sprintf("acl %s: criterion %s not supported (path, path_beg, path_end, path_reg, hdr*, method, src are); acl left out", name, crit))
		t.droppedACLs[name] = true
		return nil
	}
	if strings.HasPrefix(base, "hdr") != hasParam {
		return m.errf(l.Num, "acl %s: criterion %q: hdr* takes a header name in parentheses, others take none", name, crit)
	}
	acl.Criterion = base
	if hasParam {
		acl.Criterion = base + "(" + param + ")"
	}
	if len(rest) == 0 && base != "ssl_fc" {
		m.unsupported(t, l, fmt.Sprintf("acl %s has no value and never matches; left out", name))
		t.droppedACLs[name] = true
		return nil
	}
	acl.Values = append([]string(nil), rest...)
	idx := len(t.fe.ACLs)
	t.fe.ACLs = append(t.fe.ACLs, acl)
	m.done(t, l, fmt.Sprintf("acls[%d]", idx))
	return nil
}

func (m *mapper) useBackend(t *target, l hLine) error {
	if t.fe == nil {
		m.notHere(t, l)
		return nil
	}
	a := l.Args
	if len(a) < 2 {
		return m.errf(l.Num, "use_backend: want use_backend NAME if|unless CONDITION")
	}
	be := a[1]
	if strings.Contains(be, "%[") {
		m.unsupported(t, l, "dynamic backend names are not supported; left out")
		return nil
	}
	ub := config.UseBackend{Backend: be}
	if len(a) == 2 {
		if t.fe.DefaultBackend == "" {
			t.fe.DefaultBackend = be
			m.done(t, l, "default_backend")
			if !t.quiet {
				m.refs = append(m.refs, backendRef{l.Num, be})
				m.note(l.Num, "use_backend", keyPath(t.path, "default_backend"), "use_backend without a condition mapped to default_backend")
			}
			return nil
		}
		m.unsupported(t, l, "use_backend without a condition after a default_backend; left out")
		return nil
	}
	if a[2] != "if" && a[2] != "unless" {
		return m.errf(l.Num, "use_backend %s: want if or unless before the condition, got %q", be, a[2])
	}
	if len(a) < 4 {
		return m.errf(l.Num, "use_backend %s: empty condition", be)
	}
	cond := a[3:]
	if ok, err := m.checkCond(t, l, cond, "use_backend "+be); !ok || err != nil {
		return err
	}
	c := strings.Join(cond, " ")
	if a[2] == "if" {
		ub.If = c
	} else {
		ub.Unless = c
	}
	idx := len(t.fe.UseBackends)
	t.fe.UseBackends = append(t.fe.UseBackends, ub)
	m.done(t, l, fmt.Sprintf("use_backends[%d]", idx))
	if !t.quiet {
		m.refs = append(m.refs, backendRef{l.Num, be})
	}
	return nil
}

var predefinedACL = map[string]bool{"TRUE": true, "FALSE": true}

func aclDeclared(acls []config.ACL, n string) bool {
	for _, a := range acls {
		if a.Name == n {
			return true
		}
	}
	return false
}
