package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/proxy"
)

// HTTPRule is one http_request or http_response entry, HAProxy's
// `http-request ACTION ... [if|unless COND]` (docs/proxy.md, Rules).
type HTTPRule struct {
	// Action: allow, deny, tarpit, return, redirect, auth, set-header,
	// add-header, del-header, replace-header, set-path, set-var,
	// track-sc0, track-sc1, track-sc2 (http_response: set-header,
	// add-header, del-header).
	Action string `mapstructure:"action" yaml:"action"`
	If     string `mapstructure:"if" yaml:"if,omitempty"`
	Unless string `mapstructure:"unless" yaml:"unless,omitempty"`
	// Name: the header (*-header) or the variable (set-var: txn.NAME).
	Name string `mapstructure:"name" yaml:"name,omitempty"`
	// Value: the header value, replace-header's replacement, set-path's
	// path or set-var's expression (str(TEXT), path, method, src,
	// req.hdr(NAME)).
	Value string `mapstructure:"value" yaml:"value,omitempty"`
	// Match: replace-header's regular expression.
	Match string `mapstructure:"match" yaml:"match,omitempty"`
	// DenyStatus: deny (403) and tarpit (500).
	DenyStatus int `mapstructure:"deny_status" yaml:"deny_status,omitempty"`
	// Status: return's status (200).
	Status int `mapstructure:"status" yaml:"status,omitempty"`
	// Code: redirect's status (302); one of Location, Prefix, Scheme.
	Code     int    `mapstructure:"code" yaml:"code,omitempty"`
	Location string `mapstructure:"location" yaml:"location,omitempty"`
	Prefix   string `mapstructure:"prefix" yaml:"prefix,omitempty"`
	Scheme   string `mapstructure:"scheme" yaml:"scheme,omitempty"`
	// Return: content type and the body, String or the content of File.
	ContentType string `mapstructure:"content_type" yaml:"content_type,omitempty"`
	String      string `mapstructure:"string" yaml:"string,omitempty"`
	File        string `mapstructure:"file" yaml:"file,omitempty"`
	// Auth: the realm and the users (a userlist name).
	Realm    string `mapstructure:"realm" yaml:"realm,omitempty"`
	Userlist string `mapstructure:"userlist" yaml:"userlist,omitempty"`
	// Track-scN: key (src, req.hdr(NAME[,OCC])) and table (default: the
	// frontend's own stick_table).
	Key   string `mapstructure:"key" yaml:"key,omitempty"`
	Table string `mapstructure:"table" yaml:"table,omitempty"`
}

// HTTPResponseRule is one http_response entry: set-header, add-header or
// del-header of Name (Value) when the condition holds.
type HTTPResponseRule struct {
	Action string `mapstructure:"action" yaml:"action"`
	If     string `mapstructure:"if" yaml:"if,omitempty"`
	Unless string `mapstructure:"unless" yaml:"unless,omitempty"`
	Name   string `mapstructure:"name" yaml:"name"`
	Value  string `mapstructure:"value" yaml:"value,omitempty"`
}

// TCPRequest holds tcp_request rules.
type TCPRequest struct {
	// Connection rules run on each new connection: accept, reject,
	// track-sc0/1/2 (key src).
	Connection []TCPRule `mapstructure:"connection" yaml:"connection,omitempty"`
	// Content rules (mode tcp) run before a session picks its backend:
	// the same actions; they do not inspect the payload.
	Content []TCPRule `mapstructure:"content" yaml:"content,omitempty"`
}

// TCPRule is one `tcp-request connection ACTION [if|unless COND]`.
type TCPRule struct {
	Action string `mapstructure:"action" yaml:"action"`
	If     string `mapstructure:"if" yaml:"if,omitempty"`
	Unless string `mapstructure:"unless" yaml:"unless,omitempty"`
	Key    string `mapstructure:"key" yaml:"key,omitempty"`
	Table  string `mapstructure:"table" yaml:"table,omitempty"`
}

// StickTable is HAProxy's `stick-table type ip|string size N expire T
// store ...`; the table takes its section's name.
type StickTable struct {
	// Type: ip (default) or string (keys from a header that is not an
	// address).
	Type string `mapstructure:"type" yaml:"type,omitempty"`
	// Size: the maximum number of entries.
	Size int `mapstructure:"size" yaml:"size"`
	// Expire: an entry untouched this long is dropped.
	Expire time.Duration `mapstructure:"expire" yaml:"expire"`
	// Store: conn_cur, conn_cnt, conn_rate(10s), http_req_cnt,
	// http_req_rate(10s), http_err_cnt, http_err_rate(10s),
	// bytes_in_rate(10s), bytes_out_rate(10s).
	Store []string `mapstructure:"store" yaml:"store,omitempty"`
}

// Userlist is a named set of users for auth rules.
type Userlist struct {
	Name string `mapstructure:"name" yaml:"name"`
	// Users are "user:password" pairs.
	Users []string `mapstructure:"users" yaml:"users"`
}

// MaxTableSize bounds a stick table (entries).
const MaxTableSize = 10_000_000

var stickCriterionRe = regexp.MustCompile(`^(sc_(conn_cur|conn_cnt|conn_rate|http_req_cnt|http_req_rate|http_err_cnt|http_err_rate|bytes_in_rate|bytes_out_rate)\([0-2]\)|sc[0-2]_(conn_cur|conn_cnt|conn_rate|http_req_cnt|http_req_rate|http_err_cnt|http_err_rate|bytes_in_rate|bytes_out_rate)|src_(conn_cur|conn_cnt|conn_rate|http_req_cnt|http_req_rate|http_err_cnt|http_err_rate|bytes_in_rate|bytes_out_rate)(\([A-Za-z0-9_.-]+\))?)$`)

var varCriterionRe = regexp.MustCompile(`^var\(txn\.[A-Za-z0-9_.-]+\)$`)

// checkExtCriterion checks the criteria rules added: var(txn.NAME) and the
// stick-counter fetches with an integer comparison (gt ge lt le eq).
func checkExtCriterion(crit string, vals []string) error {
	switch {
	case varCriterionRe.MatchString(crit):
		if len(vals) == 0 {
			return fmt.Errorf("%s needs a value", crit)
		}
		return nil
	case stickCriterionRe.MatchString(crit):
		if len(vals) > 0 {
			switch vals[0] {
			case "gt", "ge", "lt", "le", "eq":
				if len(vals) != 2 {
					return fmt.Errorf("%s %s takes one integer", crit, vals[0])
				}
				vals = vals[1:]
			}
		}
		if len(vals) == 0 {
			return fmt.Errorf("%s needs an integer, e.g. gt 20", crit)
		}
		for _, v := range vals {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("%s: %q is not an integer", crit, v)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown criterion %q", crit)
}

// CheckCriterion checks an ACL criterion and its values (anonymous ACLs).
func CheckCriterion(crit string, vals []string) error {
	if crit == "ssl_fc" {
		if len(vals) > 0 {
			return fmt.Errorf("ssl_fc takes no values")
		}
		return nil
	}
	if validCriteria[crit] || hdrCriterionRe.MatchString(crit) {
		if len(vals) == 0 {
			return fmt.Errorf("%s needs a value", crit)
		}
		for _, v := range vals {
			switch {
			case crit == "src":
				if _, err := parseNet(v); err != nil {
					return fmt.Errorf("invalid network %q", v)
				}
			case strings.HasSuffix(strings.SplitN(crit, "(", 2)[0], "_reg"):
				if _, err := regexp.Compile(v); err != nil {
					return fmt.Errorf("invalid regular expression: %v", err)
				}
			}
		}
		return nil
	}
	return checkExtCriterion(crit, vals)
}

// checkTablesAndUserlists validates the stick tables (named after their
// section) and userlists.
func (c *checker) checkTablesAndUserlists(cfg *Config) {
	seen := map[string]string{}
	check := func(path, name string, t *StickTable) {
		if t == nil {
			return
		}
		if other, ok := seen[name]; ok {
			c.add(path, "stick table %q already defined at %s", name, other)
		}
		seen[name] = path
		switch t.Type {
		case "", "ip", "ipv6", "string":
		default:
			c.add(path+".type", "type %q: want ip or string", t.Type)
		}
		if t.Size <= 0 || t.Size > MaxTableSize {
			c.add(path+".size", "must be 1..%d", MaxTableSize)
		}
		if t.Expire <= 0 {
			c.add(path+".expire", "required (e.g. 30s)")
		}
		if _, err := proxyTable(name, t); err != nil {
			c.add(path+".store", "%v", err)
		}
	}
	for i := range cfg.Frontends {
		check(cfg.Frontends[i].Source+".stick_table", cfg.Frontends[i].Name, cfg.Frontends[i].StickTable)
	}
	for i := range cfg.Backends {
		check(cfg.Backends[i].Source+".stick_table", cfg.Backends[i].Name, cfg.Backends[i].StickTable)
	}
	names := map[string]bool{}
	for i, u := range cfg.Userlists {
		p := fmt.Sprintf("userlists[%d]", i)
		if !nameRe.MatchString(u.Name) {
			c.add(p+".name", "invalid name %q", u.Name)
		}
		if names[u.Name] {
			c.add(p+".name", "userlist %q defined twice", u.Name)
		}
		names[u.Name] = true
		if len(u.Users) == 0 {
			c.add(p+".users", "no users")
		}
		for j, up := range u.Users {
			if user, _, ok := strings.Cut(up, ":"); !ok || user == "" {
				c.add(fmt.Sprintf("%s.users[%d]", p, j), "want user:password")
			}
		}
	}
}

// proxyTable is the proxy's view of a table (the daemon maps it the same).
func proxyTable(name string, t *StickTable) (proxy.StickTable, error) {
	pt := proxy.StickTable{Name: name, Size: max(t.Size, 1), Expire: max(t.Expire, time.Second), Store: t.Store}
	return pt, proxy.CheckStickTable(pt)
}

// ProxyTable maps a validated stick table onto the proxy's.
func ProxyTable(name string, t *StickTable) proxy.StickTable {
	pt, _ := proxyTable(name, t)
	return pt
}

// tableNames lists the stick tables by name.
func (c *checker) tableNames() map[string]bool {
	m := map[string]bool{}
	if c.cfg == nil {
		return m
	}
	for _, f := range c.cfg.Frontends {
		if f.StickTable != nil {
			m[f.Name] = true
		}
	}
	for _, b := range c.cfg.Backends {
		if b.StickTable != nil {
			m[b.Name] = true
		}
	}
	return m
}

// condAt reports a condition problem at its line and column.
func (c *checker) condAt(path, cond string, known map[string]bool) {
	_, off, err := ParseConditionAt(cond, known)
	if err == nil {
		return
	}
	p := Problem{File: c.file, Line: c.idx.line(path), Path: path, Msg: err.Error()}
	if col, ok := c.idx[path+"#col"]; ok {
		p.Col = col + off
	}
	c.probs = append(c.probs, p)
}

var (
	headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	trackKeyRe   = regexp.MustCompile(`^(src|req\.hdr\([A-Za-z0-9_-]+(,\s*-?[1-9][0-9]*)?\))$`)
)

func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < ' ' && ch != '\t' || ch == 0x7f {
			return false
		}
	}
	return true
}

var framing = map[string]bool{"content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true,
	"proxy-connection": true, "upgrade": true, "te": true, "trailer": true, "expect": true}

// checkRuleCond checks if/unless of a rule.
func (c *checker) checkRuleCond(p, ifc, unless string, acls map[string]bool) {
	switch {
	case ifc != "" && unless != "":
		c.add(p, "use either if or unless, not both")
	case ifc != "":
		c.condAt(p+".if", ifc, acls)
	case unless != "":
		c.condAt(p+".unless", unless, acls)
	}
}

func (c *checker) checkTrack(p, action, key, table, owner string, tables map[string]bool) {
	if table == "" {
		if !tables[owner] {
			c.add(p+".table", "%s needs a table (or a stick_table in this section)", action)
		}
	} else if !tables[table] {
		c.add(p+".table", "no stick table %q (tables are the stick_table of a frontend or backend, named after it)", table)
	}
	if key != "" && !trackKeyRe.MatchString(key) {
		c.add(p+".key", "key %q: want src or req.hdr(NAME[,OCC])", key)
	}
}

// checkFrontendRules validates http_request, http_response, tcp_request
// and normalize_uri.
func (c *checker) checkFrontendRules(f *Frontend, acls map[string]bool) {
	p := f.Source
	tables := c.tableNames()
	users := map[string]bool{}
	if c.cfg != nil {
		for _, u := range c.cfg.Userlists {
			users[u.Name] = true
		}
	}
	switch f.NormalizeURI {
	case "", "acl", "off", "rewrite":
	default:
		c.add(p+".normalize_uri", "want acl (default), rewrite or off")
	}
	if f.Mode == "tcp" && (len(f.HTTPRequest) > 0 || len(f.HTTPResponse) > 0) {
		c.add(p+".http_request", "http rules need mode http")
	}
	for j, r := range f.HTTPRequest {
		c.checkHTTPRule(fmt.Sprintf("%s.http_request[%d]", p, j), r, false, acls, tables, users, f.Name)
	}
	for j, r := range f.HTTPResponse {
		c.checkHTTPRule(fmt.Sprintf("%s.http_response[%d]", p, j), HTTPRule{Action: r.Action, If: r.If, Unless: r.Unless, Name: r.Name, Value: r.Value}, true, acls, tables, users, f.Name)
	}
	if f.TCPRequest != nil {
		if len(f.TCPRequest.Content) > 0 && f.Mode != "tcp" {
			c.add(p+".tcp_request.content", "tcp_request.content rules need mode tcp (use http_request rules in mode http)")
		}
		type kr struct {
			kind string
			r    TCPRule
			j    int
		}
		var all []kr
		for j, r := range f.TCPRequest.Connection {
			all = append(all, kr{"connection", r, j})
		}
		for j, r := range f.TCPRequest.Content {
			all = append(all, kr{"content", r, j})
		}
		for _, x := range all {
			r := x.r
			rp := fmt.Sprintf("%s.tcp_request.%s[%d]", p, x.kind, x.j)
			switch r.Action {
			case "accept", "reject":
			case "track-sc0", "track-sc1", "track-sc2":
				c.checkTrack(rp, r.Action, r.Key, r.Table, f.Name, tables)
				if r.Key != "" && r.Key != "src" {
					c.add(rp+".key", "a connection is tracked by src only")
				}
			default:
				c.add(rp+".action", "unknown action %q (accept, reject, track-sc0, track-sc1, track-sc2)", r.Action)
			}
			c.checkRuleCond(rp, r.If, r.Unless, acls)
		}
	}
}

func (c *checker) checkHTTPRule(p string, r HTTPRule, resp bool, acls, tables, users map[string]bool, owner string) {
	c.checkRuleCond(p, r.If, r.Unless, acls)
	header := func() {
		if !headerNameRe.MatchString(r.Name) {
			c.add(p+".name", "invalid header name %q", r.Name)
		} else if framing[strings.ToLower(r.Name)] {
			c.add(p+".name", "%s is managed by the proxy", r.Name)
		}
		if !validValue(r.Value) {
			c.add(p+".value", "the value must not hold CR, LF or other control characters")
		}
	}
	if resp {
		switch r.Action {
		case "set-header", "add-header":
			header()
		case "del-header":
			header()
		default:
			c.add(p+".action", "unknown http_response action %q (set-header, add-header, del-header)", r.Action)
		}
		return
	}
	switch r.Action {
	case "allow":
	case "deny", "tarpit":
		if r.DenyStatus != 0 && (r.DenyStatus < 200 || r.DenyStatus > 599) {
			c.add(p+".deny_status", "must be 200..599")
		}
	case "return":
		if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
			c.add(p+".status", "must be 200..599")
		}
		if r.String != "" && r.File != "" {
			c.add(p, "use either string or file")
		}
		if !validValue(r.ContentType) {
			c.add(p+".content_type", "must not hold control characters")
		}
	case "redirect":
		c.checkRedirect(p, r.Location, r.Prefix, r.Scheme, r.Code, false)
	case "auth":
		if r.Userlist == "" {
			c.add(p+".userlist", "auth needs a userlist")
		} else if !users[r.Userlist] {
			c.add(p+".userlist", "no userlist %q", r.Userlist)
		}
		if !validValue(r.Realm) {
			c.add(p+".realm", "must not hold control characters")
		}
	case "set-header", "add-header", "del-header":
		header()
	case "replace-header":
		header()
		if _, err := regexp.Compile(r.Match); err != nil || r.Match == "" {
			c.add(p+".match", "needs a regular expression")
		}
	case "set-path":
		if !strings.HasPrefix(r.Value, "/") || strings.ContainsAny(r.Value, " ?#") || !validValue(r.Value) {
			c.add(p+".value", "set-path needs an absolute path without query")
		}
	case "set-var":
		if !strings.HasPrefix(r.Name, "txn.") || len(r.Name) < 5 {
			c.add(p+".name", "want txn.NAME")
		}
		v := r.Value
		if !(v == "path" || v == "method" || v == "src" || strings.HasPrefix(v, "str(") && strings.HasSuffix(v, ")") ||
			strings.HasPrefix(v, "req.hdr(") && strings.HasSuffix(v, ")")) {
			c.add(p+".value", "expression %q: want str(TEXT), path, method, src or req.hdr(NAME)", v)
		}
	case "track-sc0", "track-sc1", "track-sc2":
		c.checkTrack(p, r.Action, r.Key, r.Table, owner, tables)
	default:
		c.add(p+".action", "unknown action %q (allow deny tarpit return redirect auth set-header add-header del-header replace-header set-path set-var track-sc0..2)", r.Action)
	}
}

// checkRedirect checks a redirect: an http_request redirect rule (one of
// location, prefix, scheme) or a frontend `redirects:` entry (schemeOnly).
// Both forms share this check and, in the proxy, one implementation.
func (c *checker) checkRedirect(p, location, prefix, scheme string, code int, schemeOnly bool) {
	n := 0
	for _, kv := range [][2]string{{"location", location}, {"prefix", prefix}} {
		if kv[1] != "" {
			n++
			if err := proxy.ValidRedirectTarget(kv[1]); err != nil {
				c.add(p+"."+kv[0], "%v", err)
			}
		}
	}
	if scheme != "" || schemeOnly {
		n++
		if !schemeRe.MatchString(scheme) {
			c.add(p+".scheme", "invalid scheme %q (e.g. https)", scheme)
		}
	}
	if n != 1 {
		c.add(p, "redirect needs exactly one of location, prefix, scheme")
	}
	switch code {
	case 0, 301, 302, 303, 307, 308:
	default:
		c.add(p+".code", "invalid redirect code %d (301, 302, 303, 307 or 308)", code)
	}
}
