package importer

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// target is the lbd section a haproxy.cfg section's directives land in.
type target struct {
	kind   string // defaults, frontend, backend, listen, stats
	name   string
	path   string // YAML path of the section node
	common *config.Common
	fe     *config.FrontendPart // nil when the section takes no traffic
	be     *config.BackendPart  // nil when the section has no servers
	def    *config.Defaults     // set for the defaults section
	stats  *config.StatsListener
	// srvDefaults holds default-server settings local to this section.
	srvDefaults config.ServerDefaults
	// quiet: the lines applied are inherited from a defaults section; they
	// produce no comments or warnings here (the defaults pass reported them).
	quiet bool
	// dropped ACL names (unsupported criteria) in this section.
	droppedACLs map[string]bool
}

func (m *mapper) mapHAProxy(f *hFile) error {
	m.file = f.Name
	// lbd has one defaults section. It can hold HAProxy's only when there is
	// one and it comes before every proxy section; otherwise each section
	// gets the effective values of the defaults section above it written in.
	nDefaults, proxyBefore := 0, false
	for _, s := range f.Sections {
		switch s.Kind {
		case "defaults":
			nDefaults++
		case "frontend", "backend", "listen":
			if nDefaults == 0 {
				proxyBefore = true
			}
		}
	}
	flatten := nDefaults > 1 || (nDefaults == 1 && proxyBefore)
	var curDefaults *hSection
	for _, s := range f.Sections {
		if s.Skipped {
			m.head[""] = append(m.head[""], s.Head...)
			m.warnf(s.Num, s.Kind, "", "%s sections are not supported; section %q skipped (%d lines)", s.Kind, s.Name, len(s.Lines))
			continue
		}
		switch s.Kind {
		case "global":
			if err := m.mapGlobal(s); err != nil {
				return err
			}
		case "defaults":
			curDefaults = s
			if len(s.Extra) > 0 {
				m.warnf(s.Num, "defaults", "defaults", "extra words %q after the name are not supported", strings.Join(s.Extra, " "))
			}
			if flatten {
				// Report the defaults section's warnings once, then apply its
				// lines silently to each following section.
				scratch := &config.Defaults{}
				t := &target{kind: "defaults", path: "", common: &scratch.Common, def: scratch}
				m.note(s.Num, "defaults", "", "this file has several defaults sections (or sections before one); lbd has one, so the effective values of this one are written into each section that follows it")
				for _, l := range s.Lines {
					if err := m.apply(t, l); err != nil {
						return err
					}
				}
				continue
			}
			m.comments("defaults", s.hLine)
			t := &target{kind: "defaults", path: "defaults", common: &m.cfg.Defaults.Common, def: &m.cfg.Defaults}
			for _, l := range s.Lines {
				if err := m.apply(t, l); err != nil {
					return err
				}
			}
			if m.cfg.Defaults.Mode == "" { // HAProxy's default is tcp
				m.cfg.Defaults.Mode = "tcp"
				m.lineComment("defaults.mode", "HAProxy's default mode (lbd's default is http)")
			}
		case "frontend", "backend", "listen":
			var inherited []hLine
			if flatten && curDefaults != nil {
				inherited = curDefaults.Lines
			} else {
				inherited = m.pushdown
			}
			if err := m.mapProxy(s, inherited, flatten && curDefaults != nil, curDefaults); err != nil {
				return err
			}
		}
	}
	if len(f.Tail) > 0 {
		m.head["#tail"] = append(m.head["#tail"], f.Tail...)
	}
	for _, r := range m.refs {
		if _, ok := m.backNames[r.name]; !ok {
			return m.errf(r.line, "backend %q not found (no backend or listen section has this name)", r.name)
		}
	}
	return nil
}

// isStatsOnly reports whether a listen section only serves the stats page.
func isStatsOnly(s *hSection) bool {
	if s.Kind != "listen" {
		return false
	}
	stats := false
	for _, l := range s.Lines {
		switch l.Args[0] {
		case "server", "default_backend", "use_backend":
			return false
		case "stats":
			stats = true
		}
	}
	return stats
}

func (m *mapper) mapProxy(s *hSection, inherited []hLine, flattened bool, defs *hSection) error {
	t := &target{kind: s.Kind, name: s.Name, droppedACLs: map[string]bool{}}
	switch {
	case isStatsOnly(s) && m.cfg.Stats == nil:
		m.cfg.Stats = &config.StatsListener{}
		t.kind, t.path, t.stats = "stats", "stats", m.cfg.Stats
		t.common = &config.Common{} // mode, log, timeouts: not used by the stats listener
		m.head["stats"] = append(m.head["stats"], s.Head...)
		m.head["stats"] = append(m.head["stats"], fmt.Sprintf("from %s:%d: listen %s (stats only: lbd's top-level stats listener)", shortName(m.file), s.Num, quoteArgs(s.Args[1:])))
		if s.Trailing != "" {
			m.lineComment("stats", s.Trailing)
		}
		inherited = nil
	case s.Kind == "frontend":
		if err := m.claim(m.frontNames, s, "frontend"); err != nil {
			return err
		}
		t.path = fmt.Sprintf("frontends[%d]", len(m.cfg.Frontends))
		m.cfg.Frontends = append(m.cfg.Frontends, config.Frontend{Name: s.Name})
		fe := &m.cfg.Frontends[len(m.cfg.Frontends)-1]
		t.common, t.fe = &fe.Common, &fe.FrontendPart
		m.trackable = append(m.trackable, s.Name)
	case s.Kind == "backend":
		if err := m.claim(m.backNames, s, "backend"); err != nil {
			return err
		}
		t.path = fmt.Sprintf("backends[%d]", len(m.cfg.Backends))
		m.cfg.Backends = append(m.cfg.Backends, config.Backend{Name: s.Name})
		be := &m.cfg.Backends[len(m.cfg.Backends)-1]
		t.common, t.be = &be.Common, &be.BackendPart
	default:
		if err := m.claim(m.frontNames, s, "frontend"); err != nil {
			return err
		}
		if err := m.claim(m.backNames, s, "backend"); err != nil {
			return err
		}
		t.path = fmt.Sprintf("listen[%d]", len(m.cfg.Listen))
		m.cfg.Listen = append(m.cfg.Listen, config.Listen{Name: s.Name})
		ls := &m.cfg.Listen[len(m.cfg.Listen)-1]
		t.common, t.fe, t.be = &ls.Common, &ls.FrontendPart, &ls.BackendPart
		m.trackable = append(m.trackable, s.Name)
	}
	if t.kind != "stats" {
		m.comments(t.path, s.hLine)
		if flattened {
			m.lineComment(t.path, fmt.Sprintf("defaults from %s:%d written in", shortName(m.file), defs.Num))
		}
	}
	// Old form: `listen NAME ADDR:PORT[,ADDR:PORT]`.
	if len(s.Extra) > 0 {
		if t.fe == nil && t.stats == nil {
			return m.errf(s.Num, "%s %s: a backend takes no address", s.Kind, s.Name)
		}
		if err := m.apply(t, hLine{Num: s.Num, Args: append([]string{"bind"}, s.Extra...)}); err != nil {
			return err
		}
	}
	t.quiet = true
	for _, l := range inherited {
		if err := m.apply(t, l); err != nil {
			return err
		}
	}
	t.quiet = false
	for _, l := range s.Lines {
		if err := m.apply(t, l); err != nil {
			return err
		}
	}
	if t.kind == "stats" {
		return nil
	}
	// HAProxy's default mode is tcp, lbd's is http: write tcp where
	// neither the section nor lbd's defaults say.
	mode := t.common.Mode
	if mode == "" {
		mode = m.cfg.Defaults.Mode
	}
	if mode == "" {
		t.common.Mode, mode = "tcp", "tcp"
		m.lineComment(keyPath(t.path, "mode"), "HAProxy's default mode (lbd's default is http)")
	}
	if mode == "tcp" && t.be != nil && t.be.Cookie != nil {
		t.be.Cookie = nil
		m.warnf(s.Num, "cookie", t.path, "cookie persistence needs mode http and HAProxy ignores it in mode tcp; left out")
	}
	return nil
}

func shortName(file string) string {
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		return file[i+1:]
	}
	return file
}

func (m *mapper) claim(names map[string]int, s *hSection, what string) error {
	if prev, ok := names[s.Name]; ok {
		return m.errf(s.Num, "%s %q: a %s with this name is already defined at line %d", s.Kind, s.Name, what, prev)
	}
	names[s.Name] = s.Num
	return nil
}

// unsupported reports a directive that has no lbd equivalent.
func (m *mapper) unsupported(t *target, l hLine, why string) {
	if t.quiet {
		return
	}
	msg := "not supported; left out"
	if why != "" {
		msg = why
	}
	m.warnf(l.Num, directiveName(l.Args), t.path, "%s", msg)
}

// notHere reports a directive that is not valid in this kind of section.
func (m *mapper) notHere(t *target, l hLine) {
	if t.quiet {
		return
	}
	kind := t.kind
	if kind == "stats" {
		kind = "stats-only listen"
	}
	m.warnf(l.Num, directiveName(l.Args), t.path, "not used in a %s section; left out", kind)
}

// done attaches the line's comments to the key it set.
func (m *mapper) done(t *target, l hLine, key string) {
	if t.quiet {
		return
	}
	p := t.path
	if key != "" {
		if p != "" {
			p += "."
		}
		p += key
	}
	m.comments(p, l)
}

func needArgs(m *mapper, l hLine, n int, usage string) error {
	if len(l.Args) < n+1 {
		return m.errf(l.Num, "%s: missing argument (usage: %s)", directiveName(l.Args), usage)
	}
	return nil
}

// apply maps one directive of a defaults/frontend/backend/listen section.
func (m *mapper) apply(t *target, l hLine) error {
	a := l.Args
	kw := a[0]
	if t.kind == "stats" {
		switch kw {
		case "bind", "stats":
		case "mode":
			if len(a) > 1 && a[1] == "http" {
				m.done(t, l, "")
				return nil
			}
			m.notHere(t, l)
			return nil
		default:
			if !t.quiet {
				m.note(l.Num, directiveName(a), t.path, "ignored: the stats listener has no %s setting", kw)
			}
			return nil
		}
	}
	switch kw {
	case "mode":
		if err := needArgs(m, l, 1, "mode http|tcp"); err != nil {
			return err
		}
		switch a[1] {
		case "http", "tcp":
			t.common.Mode = a[1]
			m.done(t, l, "mode")
		default:
			m.unsupported(t, l, fmt.Sprintf("mode %q not supported (lbd has http and tcp); left out", a[1]))
		}
	case "log":
		if err := needArgs(m, l, 1, "log global | log ADDRESS FACILITY"); err != nil {
			return err
		}
		if a[1] == "global" {
			t.common.Log = "global"
			m.done(t, l, "log")
			return nil
		}
		m.unsupported(t, l, "per-section log targets are not supported: set them in global.log and use `log: global`; left out")
	case "no":
		if len(a) >= 2 && a[1] == "log" {
			t.common.Log = "none"
			m.done(t, l, "log")
			return nil
		}
		if len(a) < 3 || a[1] != "option" {
			m.unsupported(t, l, "")
			return nil
		}
		return m.option(t, l, a[2], a[3:], false)
	case "option":
		if err := needArgs(m, l, 1, "option NAME"); err != nil {
			return err
		}
		return m.option(t, l, a[1], a[2:], true)
	case "timeout":
		if err := needArgs(m, l, 2, "timeout NAME TIME"); err != nil {
			return err
		}
		return m.timeout(t, l, a[1], a[2], "")
	case "contimeout", "clitimeout", "srvtimeout":
		if err := needArgs(m, l, 1, kw+" TIME"); err != nil {
			return err
		}
		modern := map[string]string{"contimeout": "connect", "clitimeout": "client", "srvtimeout": "server"}[kw]
		return m.timeout(t, l, modern, a[1], fmt.Sprintf("%s %s (HAProxy 1.4 form; number without unit = ms)", kw, a[1]))
	case "retries":
		if err := needArgs(m, l, 1, "retries N"); err != nil {
			return err
		}
		n, err := m.atoi(l.Num, "retries", a[1], 0, 1000)
		if err != nil {
			return err
		}
		t.common.Retries = intp(n)
		m.done(t, l, "retries")
	case "maxconn":
		if err := needArgs(m, l, 1, "maxconn N"); err != nil {
			return err
		}
		n, err := m.atoi(l.Num, "maxconn", a[1], 0, 100000000)
		if err != nil {
			return err
		}
		t.common.Maxconn = n
		m.done(t, l, "maxconn")
	case "balance":
		return m.balance(t, l)
	case "cookie":
		return m.cookie(t, l)
	case "http-check":
		return m.httpCheck(t, l)
	case "default-server":
		return m.defaultServer(t, l)
	case "server":
		return m.server(t, l)
	case "bind":
		return m.bind(t, l)
	case "acl":
		return m.acl(t, l)
	case "use_backend":
		return m.useBackend(t, l)
	case "default_backend":
		if err := needArgs(m, l, 1, "default_backend NAME"); err != nil {
			return err
		}
		if t.fe == nil {
			if t.kind == "defaults" {
				m.refs = append(m.refs, backendRef{l.Num, a[1]})
				if t.path != "" {
					m.pushdown = append(m.pushdown, l)
					m.note(l.Num, "default_backend", t.path, "lbd's defaults have no default_backend: written into each frontend and listen section instead")
				}
				return nil
			}
			m.notHere(t, l)
			return nil
		}
		t.fe.DefaultBackend = a[1]
		if !t.quiet {
			m.refs = append(m.refs, backendRef{l.Num, a[1]})
		}
		m.done(t, l, "default_backend")
	case "stats":
		return m.stats(t, l)
	case "errorfile":
		if err := needArgs(m, l, 2, "errorfile CODE FILE"); err != nil {
			return err
		}
		code, err := m.atoi(l.Num, "errorfile", a[1], 200, 599)
		if err != nil {
			return err
		}
		ef := config.ErrorFile{Code: code, File: a[2]}
		switch {
		case t.def != nil:
			t.def.ErrorFiles = append(t.def.ErrorFiles, ef)
			m.done(t, l, "error_files")
		case t.fe != nil:
			t.fe.ErrorFiles = append(t.fe.ErrorFiles, ef)
			m.done(t, l, "error_files")
		default:
			m.unsupported(t, l, "error files are set on frontends (or defaults) in lbd; left out")
		}
	default:
		if t.kind == "defaults" && t.def != nil && kw == "description" {
			m.unsupported(t, l, "")
			return nil
		}
		m.unknown(t, l)
	}
	return nil
}

// unknown reports a keyword lbd does not map.
func (m *mapper) unknown(t *target, l hLine) {
	if knownKeyword(l.Args[0]) {
		m.unsupported(t, l, "")
		return
	}
	m.unsupported(t, l, "unknown keyword, not supported; left out")
}

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

func keyPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
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

func (m *mapper) setHealthCheck(t *target, l hLine, f func(*config.HealthCheck)) error {
	var dst **config.HealthCheck
	switch {
	case t.def != nil:
		dst = &t.def.HealthCheck
	case t.be != nil:
		dst = &t.be.HealthCheck
	default:
		m.notHere(t, l)
		return nil
	}
	if *dst == nil {
		*dst = &config.HealthCheck{}
		if t.def == nil && m.cfg.Defaults.HealthCheck != nil {
			// lbd replaces the defaults' health_check as a whole; HAProxy
			// merges, so start from the inherited one.
			hc := *m.cfg.Defaults.HealthCheck
			if hc.Expect != nil {
				e := *hc.Expect
				hc.Expect = &e
			}
			*dst = &hc
		}
	}
	f(*dst)
	m.done(t, l, "health_check")
	return nil
}

func (m *mapper) httpCheck(t *target, l hLine) error {
	a := l.Args
	if len(a) < 2 || a[1] != "expect" {
		m.unsupported(t, l, "")
		return nil
	}
	rest := a[2:]
	if len(rest) > 0 && rest[0] == "!" {
		m.unsupported(t, l, "negated expect not supported; left out")
		return nil
	}
	if len(rest) < 2 {
		return m.errf(l.Num, "http-check expect: want status N | rstatus REGEX | string TEXT")
	}
	ce := &config.CheckExpect{}
	switch rest[0] {
	case "status":
		n, err := m.atoi(l.Num, "http-check expect status", rest[1], 100, 999)
		if err != nil {
			return err
		}
		ce.Status = n
	case "rstatus":
		ce.RStatus = rest[1]
	case "string":
		ce.String = rest[1]
	default:
		m.unsupported(t, l, fmt.Sprintf("expect %s not supported (status, rstatus, string are); left out", rest[0]))
		return nil
	}
	return m.setHealthCheck(t, l, func(dst *config.HealthCheck) {
		if dst.Type == "" {
			dst.Type = "http"
		}
		dst.Expect = ce
	})
}

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
	"minconn": {true, false}, "source": {true, false}, "ssl": {false, false}, "verify": {true, false},
	"sni": {true, false}, "ca-file": {true, false}, "crt": {true, false}, "send-proxy": {false, false},
	"send-proxy-v2": {false, false}, "check-send-proxy": {false, false}, "agent-check": {false, false},
	"agent-port": {true, false}, "agent-inter": {true, false}, "agent-addr": {true, false},
	"resolvers": {true, false}, "init-addr": {true, false}, "resolve-prefer": {true, false},
	"check-ssl": {false, false}, "alpn": {true, false}, "proto": {true, false}, "pool-max-conn": {true, false},
	"pool-purge-delay": {true, false}, "tfo": {false, false}, "namespace": {true, false},
	"check-sni": {true, false}, "ws": {true, false}, "max-reuse": {true, false}, "tcp-ut": {true, false},
	"non-stick": {false, false}, "stick": {false, false}, "usesrc": {true, false}, "proxy-v2-options": {true, false},
}

// serverOptions applies server keywords to s (and sd, the settings a
// default-server line may carry).
func (m *mapper) serverOptions(t *target, l hLine, who string, args []string, s *config.Server, sd *config.ServerDefaults) error {
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
				m.warnf(l.Num, l.Args[0]+" "+w, t.path, "%s: server option %s not supported; left out", who, w)
			}
			continue
		}
		var err error
		switch w {
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
	return nil
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
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		if m.bindProto(t, l, rest, &i) {
			continue
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

// supportedCriteria are the ACL fetches lbd evaluates (see config.ACL).
var supportedCriteria = map[string]bool{
	"path": true, "path_beg": true, "path_end": true, "path_reg": true,
	"hdr": true, "hdr_beg": true, "hdr_end": true, "method": true, "src": true,
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
	if len(rest) == 0 {
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
	for _, w := range cond {
		if w == "{" || w == "}" {
			m.unsupported(t, l, "anonymous ACLs { ... } are not supported: declare a named acl; left out")
			return nil
		}
		n := strings.TrimPrefix(w, "!")
		if t.droppedACLs[n] {
			m.unsupported(t, l, fmt.Sprintf("uses acl %s, which was left out; use_backend left out", n))
			return nil
		}
		if w != "or" && w != "||" && !t.quiet && !aclDeclared(t.fe.ACLs, n) && !predefinedACL[n] {
			return m.errf(l.Num, "use_backend %s: acl %q is not declared in this section", be, n)
		}
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

func (m *mapper) stats(t *target, l hLine) error {
	a := l.Args
	if len(a) < 2 {
		return m.errf(l.Num, "stats: missing keyword")
	}
	var st *config.Stats
	switch {
	case t.stats != nil:
		st = &t.stats.Stats
	case t.fe != nil:
		if t.fe.Stats == nil {
			t.fe.Stats = &config.Stats{}
		}
		st = t.fe.Stats
	case t.kind == "defaults" && t.path != "":
		m.pushdown = append(m.pushdown, l)
		m.note(l.Num, directiveName(a), t.path, "lbd's defaults have no stats: written into each frontend and listen section instead")
		return nil
	default:
		m.notHere(t, l)
		return nil
	}
	st.Enable = true // any stats keyword enables the page, as in HAProxy
	key := "stats"
	if t.stats != nil {
		key = ""
	}
	sub := func(k string) string {
		if key == "" {
			return k
		}
		return key + "." + k
	}
	need := func() error {
		if len(a) < 3 {
			return m.errf(l.Num, "stats %s: missing value", a[1])
		}
		return nil
	}
	switch a[1] {
	case "enable":
		m.done(t, l, sub("enable"))
	case "uri":
		if err := need(); err != nil {
			return err
		}
		st.URI = a[2]
		m.done(t, l, sub("uri"))
	case "realm":
		if err := need(); err != nil {
			return err
		}
		st.Realm = strings.Join(a[2:], " ")
		m.done(t, l, sub("realm"))
	case "auth":
		if err := need(); err != nil {
			return err
		}
		if !strings.Contains(a[2], ":") {
			return m.errf(l.Num, "stats auth: want USER:PASSWORD, got %q", a[2])
		}
		st.Auth = append(st.Auth, a[2])
		m.done(t, l, sub("auth"))
	case "hide-version":
		st.HideVersion = true
		m.done(t, l, sub("hide_version"))
	case "refresh":
		if err := need(); err != nil {
			return err
		}
		v := a[2]
		if isDigits(v) { // HAProxy's stats refresh defaults to seconds
			v += "s"
		}
		d, err := m.duration(l.Num, "stats refresh", v)
		if err != nil {
			return err
		}
		st.Refresh = d
		m.done(t, l, sub("refresh"))
	default:
		m.unsupported(t, l, "")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
