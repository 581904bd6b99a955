// HAProxy http-request, http-response, tcp-request, stick-table and
// userlist directives.

package importer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// splitCond splits a rule's words at its if/unless.
func splitCond(a []string) (body []string, kw string, cond []string) {
	for i, w := range a {
		if w == "if" || w == "unless" {
			return a[:i], w, a[i+1:]
		}
	}
	return a, "", nil
}

// condition converts an HAProxy condition into lbd's; "" and a warning
// when lbd cannot evaluate it.
func (m *mapper) condition(t *target, l hLine, words []string) (string, bool) {
	var out []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "{" || w == "!{" {
			j := i + 1
			for j < len(words) && words[j] != "}" {
				j++
			}
			if j == len(words) {
				m.unsupported(t, l, "condition: '{' without '}'; rule left out")
				return "", false
			}
			inner := words[i+1 : j]
			if len(inner) == 0 {
				m.unsupported(t, l, "condition: empty { }; rule left out")
				return "", false
			}
			crit := strings.TrimPrefix(inner[0], "req.")
			var flags, vals []string
			for k := 1; k < len(inner); k++ {
				switch v := inner[k]; {
				case v == "-i" && len(vals) == 0:
					flags = append(flags, v)
				case v == "-m" && len(vals) == 0 && k+1 < len(inner):
					mm := inner[k+1]
					k++
					base := strings.SplitN(crit, "(", 2)[0]
					switch {
					case mm == "str" || mm == "int" || mm == "ip":
					case (mm == "beg" || mm == "end" || mm == "reg" || mm == "sub") && (base == "path" || base == "hdr"):
						crit = base + "_" + mm + strings.TrimPrefix(crit, base)
					default:
						m.unsupported(t, l, fmt.Sprintf("condition: -m %s on %s not supported; rule left out", mm, inner[0]))
						return "", false
					}
				default:
					vals = append(vals, v)
				}
			}
			if err := config.CheckCriterion(crit, vals); err != nil {
				m.unsupported(t, l, fmt.Sprintf("condition: { %s } not supported (%v); rule left out", strings.Join(inner, " "), err))
				return "", false
			}
			part := append([]string{w, crit}, flags...)
			part = append(part, vals...)
			out = append(out, strings.Join(append(part, "}"), " "))
			i = j
			continue
		}
		n := strings.TrimLeft(w, "!")
		if w != "or" && w != "||" && n != "" {
			if t.droppedACLs[n] {
				m.unsupported(t, l, fmt.Sprintf("uses acl %s, which was left out; rule left out", n))
				return "", false
			}
			if !t.quiet && t.fe != nil && !aclDeclared(t.fe.ACLs, n) {
				m.unsupported(t, l, fmt.Sprintf("acl %q is not declared in this section; rule left out", n))
				return "", false
			}
		}
		out = append(out, w)
	}
	return strings.Join(out, " "), true
}

// rule maps http-request, http-response and tcp-request lines.
func (m *mapper) rule(t *target, l hLine) error {
	a := l.Args
	if t.fe == nil {
		m.unsupported(t, l, fmt.Sprintf("%s rules in a backend are not supported (lbd runs them in frontends); left out", a[0]))
		return nil
	}
	if len(a) < 2 {
		return m.errf(l.Num, "%s: missing action", a[0])
	}
	body, kw, cw := splitCond(a[1:])
	if len(body) == 0 {
		return m.errf(l.Num, "%s: missing action", a[0])
	}
	var cond string
	if kw != "" && len(cw) == 0 {
		return m.errf(l.Num, "%s: empty condition", a[0])
	}
	if kw != "" && !(a[0] == "http-request" && body[0] == "auth") {
		c, ok := m.condition(t, l, cw)
		if !ok {
			return nil
		}
		cond = c
	}
	setCond := func(ifc, unless *string) {
		if kw == "if" {
			*ifc = cond
		} else if kw == "unless" {
			*unless = cond
		}
	}
	switch a[0] {
	case "tcp-request":
		if body[0] == "inspect-delay" {
			if !t.quiet {
				m.note(l.Num, "tcp-request inspect-delay", t.path, "ignored: lbd's tcp_request.content rules do not wait for payload")
			}
			return nil
		}
		if body[0] != "connection" && body[0] != "content" || len(body) < 2 {
			m.unsupported(t, l, "only tcp-request connection|content accept|reject|track-scN is supported; left out")
			return nil
		}
		r := config.TCPRule{Action: body[1]}
		switch body[1] {
		case "accept", "reject":
			if len(body) != 2 {
				m.unsupported(t, l, "")
				return nil
			}
		case "track-sc0", "track-sc1", "track-sc2":
			if len(body) < 3 || body[2] != "src" {
				m.unsupported(t, l, "a connection is tracked by src only; left out")
				return nil
			}
			r.Key = "src"
			if len(body) == 5 && body[3] == "table" {
				r.Table = body[4]
			} else if len(body) != 3 {
				m.unsupported(t, l, "")
				return nil
			}
		default:
			m.unsupported(t, l, fmt.Sprintf("tcp-request %s %s not supported (accept, reject, track-sc0..2); left out", body[0], body[1]))
			return nil
		}
		setCond(&r.If, &r.Unless)
		if t.fe.TCPRequest == nil {
			t.fe.TCPRequest = &config.TCPRequest{}
		}
		if body[0] == "content" {
			idx := len(t.fe.TCPRequest.Content)
			t.fe.TCPRequest.Content = append(t.fe.TCPRequest.Content, r)
			m.done(t, l, fmt.Sprintf("tcp_request.content[%d]", idx))
			return nil
		}
		idx := len(t.fe.TCPRequest.Connection)
		t.fe.TCPRequest.Connection = append(t.fe.TCPRequest.Connection, r)
		m.done(t, l, fmt.Sprintf("tcp_request.connection[%d]", idx))
		return nil
	case "http-response":
		r := config.HTTPResponseRule{Action: body[0]}
		switch {
		case (body[0] == "set-header" || body[0] == "add-header") && len(body) == 3:
			r.Name, r.Value = body[1], body[2]
		case body[0] == "del-header" && len(body) == 2:
			r.Name = body[1]
		default:
			m.unsupported(t, l, fmt.Sprintf("http-response %s not supported (set-header, add-header, del-header are); left out", body[0]))
			return nil
		}
		if strings.Contains(r.Value, "%[") {
			m.unsupported(t, l, "log-format expressions %[...] in header values are not supported; left out")
			return nil
		}
		setCond(&r.If, &r.Unless)
		idx := len(t.fe.HTTPResponse)
		t.fe.HTTPResponse = append(t.fe.HTTPResponse, r)
		m.done(t, l, fmt.Sprintf("http_response[%d]", idx))
		return nil
	}
	r, why := httpRequestRule(body)
	if why != "" {
		m.unsupported(t, l, why)
		return nil
	}
	if r.Action == "normalize-uri" {
		t.fe.NormalizeURI = "rewrite"
		m.done(t, l, "normalize_uri")
		if !t.quiet {
			m.note(l.Num, "http-request", keyPath(t.path, "normalize_uri"), "lbd normalises paths as a whole (percent-decode-unreserved, merge-slashes, dot segments): normalize_uri: rewrite")
		}
		return nil
	}
	if r.Action == "auth" {
		// HAProxy: auth [realm R] if !{ http_auth(L) } / unless { http_auth(L) }.
		list, rest, ok := authList(kw, cw)
		if !ok {
			m.unsupported(t, l, "auth: lbd's auth rule checks one userlist: write it as `http-request auth [realm R] unless { http_auth(LIST) } [...]`; left out")
			return nil
		}
		r.Userlist = list
		r.If, r.Unless = "", ""
		if len(rest) > 0 {
			c, ok := m.condition(t, l, rest)
			if !ok {
				return nil
			}
			r.If = c
		}
	} else {
		setCond(&r.If, &r.Unless)
	}
	idx := len(t.fe.HTTPRequest)
	t.fe.HTTPRequest = append(t.fe.HTTPRequest, r)
	m.done(t, l, fmt.Sprintf("http_request[%d]", idx))
	return nil
}

// authList finds { http_auth(LIST) } in an auth rule's condition: the
// whole `unless { http_auth(L) }`, or `if !{ http_auth(L) } REST...`.
func authList(kw string, cw []string) (string, []string, bool) {
	list := func(w []string) (string, bool) {
		if len(w) == 4 && (w[0] == "{" || w[0] == "!{") && w[3] == "}" || len(w) == 3 && w[2] == "}" {
			f := w[1]
			if strings.HasPrefix(f, "http_auth(") && strings.HasSuffix(f, ")") {
				return f[len("http_auth(") : len(f)-1], true
			}
		}
		return "", false
	}
	switch {
	case kw == "unless" && len(cw) == 3 && cw[0] == "{":
		l, ok := list(cw)
		return l, nil, ok
	case kw == "if" && len(cw) >= 3 && cw[0] == "!{":
		l, ok := list(cw[:3])
		return l, cw[3:], ok
	}
	return "", nil, false
}

// httpRequestRule maps the action part of an http-request line; why says
// why it cannot be.
func httpRequestRule(b []string) (config.HTTPRule, string) {
	r := config.HTTPRule{Action: b[0]}
	args := b[1:]
	bad := fmt.Sprintf("http-request %s: arguments %q not supported; left out", b[0], strings.Join(args, " "))
	for _, w := range args {
		if strings.Contains(w, "%[") {
			return r, fmt.Sprintf("log-format expressions %%[...] are not supported (in %q); left out", strings.Join(args, " "))
		}
	}
	status := func(key string, dst *int) bool {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == key {
				n, err := strconv.Atoi(args[i+1])
				if err != nil {
					return false
				}
				*dst = n
				args = append(args[:i:i], args[i+2:]...)
				return true
			}
		}
		return true
	}
	switch {
	case b[0] == "allow" && len(args) == 0:
	case b[0] == "deny" || b[0] == "tarpit":
		if !status("deny_status", &r.DenyStatus) || len(args) != 0 {
			return r, bad
		}
	case b[0] == "return":
		if !status("status", &r.Status) {
			return r, bad
		}
		for i := 0; i+1 < len(args); i += 2 {
			switch args[i] {
			case "content-type":
				r.ContentType = args[i+1]
			case "string":
				r.String = args[i+1]
			case "file", "errorfile":
				r.File = args[i+1]
			default:
				return r, bad
			}
		}
		if len(args)%2 != 0 {
			return r, bad
		}
	case b[0] == "redirect" && len(args) >= 2:
		switch args[0] {
		case "location":
			r.Location = args[1]
		case "prefix":
			r.Prefix = args[1]
		case "scheme":
			r.Scheme = args[1]
		default:
			return r, bad
		}
		args = args[2:]
		if !status("code", &r.Code) || len(args) != 0 {
			return r, fmt.Sprintf("http-request redirect: options %q not supported (code is); left out", strings.Join(args, " "))
		}
	case b[0] == "auth":
		if len(args) == 2 && args[0] == "realm" {
			r.Realm = args[1]
		} else if len(args) != 0 {
			return r, bad
		}
	case (b[0] == "set-header" || b[0] == "add-header") && len(args) == 2:
		r.Name, r.Value = args[0], args[1]
	case b[0] == "del-header" && len(args) == 1:
		r.Name = args[0]
	case b[0] == "replace-header" && len(args) == 3:
		r.Name, r.Match, r.Value = args[0], args[1], strings.ReplaceAll(args[2], `\1`, "$1")
	case b[0] == "set-path" && len(args) == 1:
		r.Value = args[0]
	case strings.HasPrefix(b[0], "set-var(") && strings.HasSuffix(b[0], ")") && len(args) == 1:
		r.Action, r.Name, r.Value = "set-var", b[0][len("set-var("):len(b[0])-1], strings.TrimPrefix(args[0], "req.")
		if strings.HasPrefix(r.Value, "hdr(") {
			r.Value = "req." + r.Value
		}
		switch v := r.Value; {
		case v == "path" || v == "method" || v == "src" || strings.HasPrefix(v, "str(") || strings.HasPrefix(v, "req.hdr("):
		default:
			return r, fmt.Sprintf("set-var: expression %s not supported (str(), path, method, src, req.hdr()); left out", args[0])
		}
	case (b[0] == "track-sc0" || b[0] == "track-sc1" || b[0] == "track-sc2") && len(args) >= 1:
		key := args[0]
		if strings.HasPrefix(key, "hdr(") {
			key = "req." + key
		}
		if key != "src" && !strings.HasPrefix(key, "req.hdr(") {
			return r, fmt.Sprintf("%s: key %s not supported (src, req.hdr(NAME[,OCC])); left out", b[0], args[0])
		}
		r.Key = key
		if len(args) == 3 && args[1] == "table" {
			r.Table = args[2]
		} else if len(args) != 1 {
			return r, bad
		}
	case b[0] == "normalize-uri" && len(args) >= 1:
		switch args[0] {
		case "path-merge-slashes", "path-strip-dot", "path-strip-dotdot", "percent-decode-unreserved", "percent-to-uppercase":
		default:
			return r, fmt.Sprintf("normalize-uri %s not supported; left out", args[0])
		}
	default:
		return r, fmt.Sprintf("http-request %s not supported (allow deny tarpit return redirect auth set-header add-header del-header replace-header set-path set-var track-scN normalize-uri are); left out", b[0])
	}
	return r, ""
}

// knownStores are the stick-table counters lbd keeps.
var knownStores = map[string]bool{"conn_cur": true, "conn_cnt": true, "conn_rate": true, "http_req_cnt": true, "http_req_rate": true,
	"http_err_cnt": true, "http_err_rate": true, "bytes_in_rate": true, "bytes_out_rate": true}

// stickTable maps `stick-table type T size N [expire T] [store ...]`.
func (m *mapper) stickTable(t *target, l hLine) error {
	if t.table == nil {
		m.notHere(t, l)
		return nil
	}
	st := &config.StickTable{}
	a := l.Args[1:]
	for i := 0; i < len(a); i++ {
		arg := ""
		if i+1 < len(a) {
			arg = a[i+1]
		}
		switch a[i] {
		case "type":
			switch arg {
			case "ip", "ipv6", "string":
				st.Type = arg
			default:
				m.unsupported(t, l, fmt.Sprintf("stick-table type %s not supported (ip, ipv6, string); left out", arg))
				return nil
			}
			i++
		case "len":
			i++
		case "size":
			n, err := parseHAProxySize(arg)
			if err != nil || n > config.MaxTableSize {
				return m.errf(l.Num, "stick-table: bad size %q", arg)
			}
			st.Size = n
			i++
		case "expire":
			d, err := m.duration(l.Num, "stick-table expire", arg)
			if err != nil {
				return err
			}
			st.Expire = d
			i++
		case "store":
			for _, s := range strings.Split(arg, ",") {
				if knownStores[strings.SplitN(s, "(", 2)[0]] {
					st.Store = append(st.Store, s)
				} else if !t.quiet {
					m.warnf(l.Num, "stick-table", keyPath(t.path, "stick_table.store"), "store %s not supported; left out", s)
				}
			}
			i++
		case "peers":
			if !t.quiet {
				m.warnf(l.Num, "stick-table", keyPath(t.path, "stick_table"), "peers %s: left out; lbd replicates stick-table counters over its pair link instead (docs/pair.md#stick-tables), set up with `lbctl pair`", arg)
			}
			i++
		case "nopurge":
			if !t.quiet {
				m.warnf(l.Num, "stick-table", keyPath(t.path, "stick_table"), "nopurge not supported: a full table evicts its least recently used idle entry")
			}
		default:
			m.unsupported(t, l, fmt.Sprintf("stick-table option %s not supported; left out", a[i]))
			return nil
		}
	}
	if st.Expire == 0 {
		if !t.quiet {
			m.note(l.Num, "stick-table", keyPath(t.path, "stick_table.expire"), "no expire in HAProxy (entries live until evicted): 24h written")
		}
		st.Expire = 24 * 60 * 60 * 1e9
	}
	*t.table = st
	m.done(t, l, "stick_table")
	return nil
}

// parseHAProxySize reads 100, 100k, 1m, 1g (HAProxy multiplies by 1024).
func parseHAProxySize(s string) (int, error) {
	mul := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mul, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mul, s = 1024*1024, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mul, s = 1024*1024*1024, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > config.MaxTableSize/mul+1 {
		return 0, fmt.Errorf("bad size")
	}
	return n * mul, nil
}

// userlist maps `userlist NAME` with `user U insecure-password P` lines.
func (m *mapper) userlist(s *hSection) {
	u := config.Userlist{Name: s.Name}
	for _, l := range s.Lines {
		a := l.Args
		switch {
		case len(a) >= 4 && a[0] == "user" && a[2] == "insecure-password":
			u.Users = append(u.Users, a[1]+":"+a[3])
		case len(a) >= 2 && a[0] == "user":
			m.warnf(l.Num, "user", "userlists", "user %s: only insecure-password users are imported (lbd compares plain passwords in constant time); left out", a[1])
		default:
			m.warnf(l.Num, directiveName(a), "userlists", "not supported in a userlist; left out")
		}
	}
	if len(u.Users) == 0 {
		m.warnf(s.Num, "userlist", "", "userlist %s has no importable user; left out", s.Name)
		return
	}
	m.cfg.Userlists = append(m.cfg.Userlists, u)
	m.comments(fmt.Sprintf("userlists[%d]", len(m.cfg.Userlists)-1), s.hLine)
}
