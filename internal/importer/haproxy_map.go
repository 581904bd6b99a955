package importer

import (
	"fmt"
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
	// srvSSL: as mapper.defSSL, for this section's default-server lines.
	srvSSL config.ServerSSL
	// quiet: the lines applied are inherited from a defaults section; they
	// produce no comments or warnings here (the defaults pass reported them).
	quiet bool
	// dropped ACL names (unsupported criteria) in this section.
	droppedACLs map[string]bool
	// table is where a stick-table line goes (nil: nowhere).
	table **config.StickTable
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
		if s.Skipped && s.Kind == "userlist" {
			m.userlist(s)
			continue
		}
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
		t.table = &fe.StickTable
		m.trackable = append(m.trackable, s.Name)
	case s.Kind == "backend":
		if err := m.claim(m.backNames, s, "backend"); err != nil {
			return err
		}
		t.path = fmt.Sprintf("backends[%d]", len(m.cfg.Backends))
		m.cfg.Backends = append(m.cfg.Backends, config.Backend{Name: s.Name})
		be := &m.cfg.Backends[len(m.cfg.Backends)-1]
		t.common, t.be = &be.Common, &be.BackendPart
		t.table = &be.StickTable
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
		t.table = &ls.StickTable
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
	if mode == "http" && t.fe != nil && t.fe.TCPRequest != nil && len(t.fe.TCPRequest.Content) > 0 {
		t.fe.TCPRequest.Content = nil
		m.warnf(s.Num, "tcp-request content", t.path, "tcp-request content rules in mode http are not supported (write them as http-request rules); left out")
	}
	if mode == "tcp" && t.fe != nil && len(t.fe.HTTPRequest)+len(t.fe.HTTPResponse) > 0 {
		t.fe.HTTPRequest, t.fe.HTTPResponse = nil, nil
		m.warnf(s.Num, "http-request", t.path, "http-request/http-response rules need mode http and HAProxy ignores them in mode tcp; left out")
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
	case "log-format":
		return m.logFormat(t, l)
	case "acl":
		return m.acl(t, l)
	case "use_backend":
		return m.useBackend(t, l)
	case "redirect":
		return m.redirect(t, l)
	case "http-request", "http-response", "tcp-request":
		return m.rule(t, l)
	case "stick-table":
		return m.stickTable(t, l)
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

func keyPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}
