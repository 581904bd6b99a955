package proxy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// HTTPRule is one `http-request` or `http-response` rule, HAProxy's
// semantics: the rules run in order; a rule whose condition (If, or the
// negation of Unless; neither: always) holds acts; allow, deny, return,
// redirect, tarpit and a failed auth end the evaluation. Conditions use the
// frontend's ACLs and anonymous ones, `{ path_beg /admin }`. Header values
// are literal text.
type HTTPRule struct {
	// Action (http-request): allow, deny, tarpit, return, redirect, auth,
	// set-header, add-header, del-header, replace-header, set-path,
	// set-var, track-sc0, track-sc1, track-sc2. http-response: set-header,
	// add-header, del-header.
	Action string
	If     string
	Unless string
	// Name is the header name (*-header) or the variable (set-var:
	// txn.NAME).
	Name string
	// Value is the header value (set-header, add-header), the replacement
	// (replace-header, with $1 references), the path (set-path) or the
	// expression (set-var: str(TEXT), path, method, src, req.hdr(NAME)).
	Value string
	// Match is replace-header's regular expression (whole value).
	Match string
	// Status: deny and tarpit (default 403 and 500), return (default 200),
	// redirect (301, 302 (default), 303, 307, 308).
	Status int
	// Redirect target, exactly one: Location (as is), Prefix (prepended to
	// the request URI) or Scheme (scheme://host + URI).
	Location, Prefix, Scheme string
	// Return: ContentType and the body, Body or the content of File (at
	// most 12 KiB).
	ContentType string
	Body        string
	File        string
	// Auth: Realm and the "user:password" pairs allowed. The rule answers
	// 401 unless the request carries valid credentials (HAProxy's
	// `http-request auth unless { http_auth(list) }` in one rule).
	Realm string
	Users []string
	// Track-scN: Key (src, or req.hdr(NAME[,OCC]) with OCC 1 for the first
	// comma-separated value, -1 (default) for the last) and Table.
	Key   string
	Table string
}

// TCPRule is one `tcp-request connection` or `tcp-request content` rule:
// Action accept (stop), reject (close at once) or track-sc0/1/2 (Key src,
// Table). Conditions see the source address and stick counters only
// (content rules do not inspect the payload).
type TCPRule struct {
	Action string
	If     string
	Unless string
	Key    string
	Table  string
}

type ruleAct uint8

const (
	actAllow ruleAct = iota
	actDeny
	actTarpit
	actReturn
	actRedirect
	actAuth
	actSetHeader
	actAddHeader
	actDelHeader
	actReplaceHeader
	actSetPath
	actSetVar
	actTrack
	actAccept
	actReject
)

var ruleActs = map[string]ruleAct{
	"allow": actAllow, "deny": actDeny, "tarpit": actTarpit, "return": actReturn, "redirect": actRedirect,
	"auth": actAuth, "set-header": actSetHeader, "add-header": actAddHeader, "del-header": actDelHeader,
	"replace-header": actReplaceHeader, "set-path": actSetPath, "set-var": actSetVar,
	"track-sc0": actTrack, "track-sc1": actTrack, "track-sc2": actTrack,
	"accept": actAccept, "reject": actReject,
}

type redirKind uint8

const (
	redirLocation redirKind = iota
	redirPrefix
	redirScheme
)

type varExpr uint8

const (
	varStr varExpr = iota
	varPath
	varMethod
	varSrc
	varHdr
)

// httpRule is a compiled rule.
type httpRule struct {
	act    ruleAct
	cond   *condition
	name   []byte
	kind   h1.Kind
	value  []byte
	re     *regexp.Regexp
	status int
	page   []byte // deny/tarpit: whole answer; return/auth: head without Connection and final CRLF
	body   []byte // return/auth body
	redir  redirKind
	target []byte
	users  []string
	vr     int
	vexpr  varExpr
	slot   int
	table  *stickTable
	keyHdr []byte // track on a header; nil: src
	keyOcc int
}

// ruleState is the per-request state of the rules: variables, trackers
// and scratch buffers (kept with the pooled reqState).
type ruleState struct {
	vars   [maxVars][]byte
	varSet uint32
	sc     [maxSC]scTrack
	npath  []byte // normalised path
	uriA   []byte // rewritten URIs, alternating
	uriB   []byte
	srcBuf [48]byte
}

func (rs *ruleState) getVar(i int) ([]byte, bool) {
	if rs == nil || rs.varSet&(1<<i) == 0 {
		return nil, false
	}
	return rs.vars[i], true
}

// reset clears variables and the references to request buffers, and
// releases trackers a request left (emit normally releases them, with the
// request's status).
func (rs *ruleState) reset() {
	if rs.varSet != 0 {
		rs.vars = [maxVars][]byte{}
		rs.varSet = 0
	}
	for i := range rs.sc {
		if s := &rs.sc[i]; s.e != nil {
			s.t.release(s.e, 0, 0, 0)
			s.e, s.t = nil, nil
		}
	}
}

// maxReturnBody bounds a return rule's body (it must fit one buffer).
const maxReturnBody = 12 << 10

// validHeaderName: an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue refuses CR, LF, NUL and other controls but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// framingHeader reports header names rules may not touch: they decide the
// message framing or the connection, which the proxy manages.
func framingHeader(k h1.Kind) bool {
	switch k {
	case h1.KindContentLength, h1.KindTransferEncoding, h1.KindConnection, h1.KindKeepAlive,
		h1.KindProxyConnection, h1.KindUpgrade, h1.KindTE, h1.KindTrailer, h1.KindExpect:
		return true
	}
	return false
}

// ValidRedirectTarget checks a redirect location or prefix: an absolute
// http(s) URL or an absolute path, no whitespace or control characters.
func ValidRedirectTarget(s string) error {
	if s == "" {
		return fmt.Errorf("empty redirect target")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("redirect target %q holds whitespace or a control character", s)
		}
	}
	if strings.HasPrefix(s, "//") {
		return fmt.Errorf("redirect target %q: scheme-relative URLs are refused", s)
	}
	if s[0] == '/' {
		return nil
	}
	i := strings.Index(s, "://")
	if i <= 0 || i+3 == len(s) {
		return fmt.Errorf("redirect target %q: want /path or scheme://host[/path]", s)
	}
	for _, c := range s[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return fmt.Errorf("redirect target %q: bad scheme", s)
		}
	}
	return nil
}

func ruleCond(ifc, unless string, env *aclEnv) (*condition, error) {
	switch {
	case ifc != "" && unless != "":
		return nil, fmt.Errorf("both if and unless")
	case ifc != "":
		return compileCond(ifc, false, env)
	case unless != "":
		return compileCond(unless, true, env)
	}
	return nil, nil
}

func parseTrack(action, key, table string, env *aclEnv, r *httpRule) error {
	r.slot = int(action[len(action)-1] - '0')
	r.table = env.tables[table]
	if r.table == nil {
		if table != "" {
			return fmt.Errorf("unknown stick table %q", table)
		}
		if r.table = env.defTable; r.table == nil {
			return fmt.Errorf("%s needs a table", action)
		}
	}
	switch k := strings.TrimSpace(key); {
	case k == "" || k == "src":
	case strings.HasPrefix(k, "req.hdr(") && strings.HasSuffix(k, ")"):
		name, occ, _ := strings.Cut(k[len("req.hdr("):len(k)-1], ",")
		name = strings.TrimSpace(name)
		if !validHeaderName(name) {
			return fmt.Errorf("key %q: bad header name", key)
		}
		r.keyHdr = []byte(name)
		r.keyOcc = -1
		if occ = strings.TrimSpace(occ); occ != "" {
			n, err := strconv.Atoi(occ)
			if err != nil || n == 0 {
				return fmt.Errorf("key %q: occurrence must be a non-zero integer", key)
			}
			r.keyOcc = n
		}
	default:
		return fmt.Errorf("key %q: want src or req.hdr(NAME[,OCC])", key)
	}
	return nil
}

func compileHTTPRule(hr HTTPRule, resp bool, env *aclEnv, fe *frontend) (httpRule, error) {
	var r httpRule
	act, ok := ruleActs[hr.Action]
	if !ok || act == actAccept || act == actReject {
		return r, fmt.Errorf("unknown action %q", hr.Action)
	}
	if resp && act != actSetHeader && act != actAddHeader && act != actDelHeader {
		return r, fmt.Errorf("action %q is not available in http-response (set-header, add-header, del-header)", hr.Action)
	}
	r.act = act
	var err error
	if r.cond, err = ruleCond(hr.If, hr.Unless, env); err != nil {
		return r, err
	}
	switch act {
	case actSetHeader, actAddHeader, actDelHeader, actReplaceHeader:
		if !validHeaderName(hr.Name) {
			return r, fmt.Errorf("%s: bad header name %q", hr.Action, hr.Name)
		}
		r.name = []byte(hr.Name)
		r.kind = h1.KindOf(r.name)
		if framingHeader(r.kind) {
			return r, fmt.Errorf("%s: %s is managed by the proxy", hr.Action, hr.Name)
		}
		if !validHeaderValue(hr.Value) {
			return r, fmt.Errorf("%s: the value holds CR, LF or another control character", hr.Action)
		}
		r.value = []byte(hr.Value)
		if act == actReplaceHeader {
			if r.re, err = regexp.Compile("^(?:" + hr.Match + ")$"); err != nil {
				return r, fmt.Errorf("replace-header: %w", err)
			}
		}
	case actSetPath:
		if !strings.HasPrefix(hr.Value, "/") || strings.ContainsAny(hr.Value, " ?#\t\r\n") || !validHeaderValue(hr.Value) {
			return r, fmt.Errorf("set-path: %q is not an absolute path", hr.Value)
		}
		r.value = []byte(hr.Value)
	case actSetVar:
		if r.vr, err = env.varIndex(hr.Name); err != nil {
			return r, err
		}
		v := strings.TrimSpace(hr.Value)
		switch {
		case v == "path":
			r.vexpr = varPath
		case v == "method":
			r.vexpr = varMethod
		case v == "src":
			r.vexpr = varSrc
		case strings.HasPrefix(v, "req.hdr(") && strings.HasSuffix(v, ")"):
			r.vexpr, r.name = varHdr, []byte(strings.TrimSpace(v[8:len(v)-1]))
		case strings.HasPrefix(v, "str(") && strings.HasSuffix(v, ")"):
			r.vexpr, r.value = varStr, []byte(v[4:len(v)-1])
		default:
			return r, fmt.Errorf("set-var: expression %q (want str(TEXT), path, method, src or req.hdr(NAME))", hr.Value)
		}
	case actTrack:
		if err := parseTrack(hr.Action, hr.Key, hr.Table, env, &r); err != nil {
			return r, err
		}
	case actDeny, actTarpit:
		r.status = hr.Status
		if r.status == 0 {
			r.status = 403
			if act == actTarpit {
				r.status = 500
			}
		}
		if r.status < 200 || r.status > 599 {
			return r, fmt.Errorf("%s: status %d out of 200..599", hr.Action, r.status)
		}
		r.page = fe.rulePage(r.status)
		if act == actTarpit && fe.tarpit <= 0 {
			return r, fmt.Errorf("tarpit needs TarpitTimeout")
		}
	case actReturn:
		r.status = hr.Status
		if r.status == 0 {
			r.status = 200
		}
		if r.status < 200 || r.status > 599 {
			return r, fmt.Errorf("return: status %d out of 200..599", r.status)
		}
		body := []byte(hr.Body)
		if hr.File != "" {
			if hr.Body != "" {
				return r, fmt.Errorf("return: body and file both set")
			}
			if body, err = os.ReadFile(hr.File); err != nil {
				return r, fmt.Errorf("return: %w", err)
			}
		}
		if len(body) > maxReturnBody {
			return r, fmt.Errorf("return: body larger than %d bytes", maxReturnBody)
		}
		if !validHeaderValue(hr.ContentType) {
			return r, fmt.Errorf("return: bad content type")
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n", r.status, h1.StatusText(r.status), len(body))
		if hr.ContentType != "" {
			b.WriteString("Content-Type: " + hr.ContentType + "\r\n")
		}
		b.WriteString("Cache-Control: no-cache\r\n")
		r.page, r.body = b.Bytes(), body
	case actRedirect:
		r.status = hr.Status
		switch r.status {
		case 0:
			r.status = 302
		case 301, 302, 303, 307, 308:
		default:
			return r, fmt.Errorf("redirect: code %d (want 301, 302, 303, 307 or 308)", r.status)
		}
		n := 0
		if hr.Location != "" {
			n++
			r.redir, r.target = redirLocation, []byte(hr.Location)
			err = ValidRedirectTarget(hr.Location)
		}
		if hr.Prefix != "" {
			n++
			r.redir, r.target = redirPrefix, []byte(strings.TrimSuffix(hr.Prefix, "/"))
			err = ValidRedirectTarget(hr.Prefix)
		}
		if hr.Scheme != "" {
			n++
			r.redir, r.target = redirScheme, []byte(hr.Scheme)
			if !regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*$`).MatchString(hr.Scheme) {
				err = fmt.Errorf("redirect: bad scheme %q", hr.Scheme)
			}
		}
		if n != 1 {
			return r, fmt.Errorf("redirect: set exactly one of location, prefix, scheme")
		}
		if err != nil {
			return r, err
		}
		r.page = []byte("HTTP/1.1 " + strconv.Itoa(r.status) + " " + redirectReasons[r.status] + "\r\nContent-Length: 0\r\nLocation: ")
	case actAuth:
		if len(hr.Users) == 0 {
			return r, fmt.Errorf("auth: no users")
		}
		realm := strings.NewReplacer(`"`, "", "\r", "", "\n", "").Replace(hr.Realm)
		if realm == "" {
			realm = fe.name
		}
		r.users = hr.Users
		r.body = []byte("<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n")
		r.page = fmt.Appendf(nil, "HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\nContent-Type: text/html\r\nWWW-Authenticate: Basic realm=\"%s\"\r\nCache-Control: no-cache\r\n", len(r.body), realm)
	}
	return r, nil
}

// rulePage is the answer of a deny or tarpit rule: the frontend's error
// page for the status, or a built-in one.
func (f *frontend) rulePage(code int) []byte {
	if p, ok := f.errPages[code]; ok {
		return p
	}
	msg := "Request denied."
	if code == 429 {
		msg = "You have sent too many requests in a given amount of time."
	}
	return buildErrorPage(code, fmt.Appendf(nil, "<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, h1.StatusText(code), msg))
}

// compileTables compiles the stick tables, keeping a table (and its
// entries) across a reload when its definition is unchanged.
func compileTables(ts []StickTable, g *generation, reg, next *registry) []error {
	var errs []error
	g.tables = map[string]*stickTable{}
	for _, tc := range ts {
		t, err := compileStickTable(tc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := g.tables[t.name]; dup {
			errs = append(errs, fmt.Errorf("stick table %s defined twice", t.name))
			continue
		}
		if old := reg.tables[t.name]; old != nil && old.sig == t.sig {
			t = old
		}
		g.tables[t.name] = t
		next.tables[t.name] = t
	}
	return errs
}

// compileFrontendRules compiles the http-request, http-response and
// tcp-request connection rules of a frontend.
func compileFrontendRules(f *frontend, fc *Frontend, named map[string][]*acl, g *generation) error {
	env := &aclEnv{named: named, tables: g.tables, defTable: g.tables[fc.Name]}
	f.normalize = fc.NormalizeURI
	f.tarpit = fc.TarpitTimeout
	if f.mode == ModeTCP && (len(fc.HTTPRequestRules) > 0 || len(fc.HTTPResponseRules) > 0) {
		return fmt.Errorf("http rules need mode http")
	}
	for i, hr := range fc.HTTPRequestRules {
		r, err := compileHTTPRule(hr, false, env, f)
		if err != nil {
			return fmt.Errorf("http-request rule %d: %w", i+1, err)
		}
		f.reqRules = append(f.reqRules, r)
	}
	for i, hr := range fc.HTTPResponseRules {
		r, err := compileHTTPRule(hr, true, env, f)
		if err != nil {
			return fmt.Errorf("http-response rule %d: %w", i+1, err)
		}
		f.respRules = append(f.respRules, r)
	}
	if err := compileRedirects(f, fc, env); err != nil {
		return err
	}
	if len(fc.TCPContentRules) > 0 && f.mode != ModeTCP {
		return fmt.Errorf("tcp-request content rules need mode tcp (use http-request rules)")
	}
	var err error
	if f.tcpConn, err = compileTCPRules("connection", fc.TCPConnectionRules, env); err != nil {
		return err
	}
	f.tcpContent, err = compileTCPRules("content", fc.TCPContentRules, env)
	return err
}

func compileTCPRules(kind string, rules []TCPRule, env *aclEnv) ([]httpRule, error) {
	var out []httpRule
	for i, tr := range rules {
		var r httpRule
		act, ok := ruleActs[tr.Action]
		if !ok || act != actAccept && act != actReject && act != actTrack {
			return nil, fmt.Errorf("tcp-request %s rule %d: unknown action %q (accept, reject, track-sc0/1/2)", kind, i+1, tr.Action)
		}
		r.act = act
		var err error
		if r.cond, err = ruleCond(tr.If, tr.Unless, env); err == nil && act == actTrack {
			err = parseTrack(tr.Action, tr.Key, tr.Table, env, &r)
			if err == nil && r.keyHdr != nil {
				err = fmt.Errorf("a connection is tracked by src only")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tcp-request %s rule %d: %w", kind, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// requestMatch returns what conditions look at for the current request,
// the path normalised as the frontend says (normalize.go), rewriting the
// request URI with NormalizeRewrite.
func (cc *clientConn) requestMatch() matchCtx {
	req := &cc.req
	rs := &cc.rules
	m := matchCtx{req: req, path: requestPath(req.URI), src: cc.src.Addr(), tls: cc.tls, rs: rs, ct: cc.ct}
	if cc.fe.normalize != NormalizeOff {
		np := normalizePath(&rs.npath, m.path)
		if len(np) != len(m.path) || len(np) > 0 && &np[0] != &m.path[0] {
			if cc.fe.normalize == NormalizeRewrite {
				cc.replacePath(m.path, np)
				m.path = requestPath(req.URI)
			} else {
				m.path = np
			}
		}
	}
	return m
}

// replacePath sets the request URI to its part before old (a slice of it),
// p, and its part after old.
func (cc *clientConn) replacePath(old, p []byte) {
	req := &cc.req
	rs := &cc.rules
	off := cap(req.URI) - cap(old)
	if old == nil {
		off = len(req.URI)
	}
	u := append(rs.uriB[:0], req.URI[:off]...)
	u = append(u, p...)
	u = append(u, req.URI[off+len(old):]...)
	rs.uriA, rs.uriB = u, rs.uriA
	req.URI = u
}

// httpRequestRules runs the frontend's http-request rules; done means the
// request was answered (ka: the connection may go on).
func (cc *clientConn) httpRequestRules(m *matchCtx, tStart time.Time) (done, ka bool) {
	fe := cc.fe
	req := &cc.req
	for i := range fe.reqRules {
		r := &fe.reqRules[i]
		if r.cond != nil && !r.cond.eval(m) {
			continue
		}
		switch r.act {
		case actAllow:
			return false, false
		case actDeny:
			fe.st.denied.Add(1)
			return true, cc.ruleReply(r.page, nil, r.status, "PR", tStart, false)
		case actTarpit:
			fe.st.denied.Add(1)
			cc.tarpitWait(fe.tarpit)
			return true, cc.ruleReply(r.page, nil, r.status, "PT", tStart, false)
		case actReturn:
			return true, cc.ruleReply(r.page, r.body, r.status, "LR", tStart, cc.localKeepAlive())
		case actRedirect:
			return true, cc.redirect(r, tStart)
		case actAuth:
			if !cc.authorized(r.users) {
				return true, cc.ruleReply(r.page, r.body, 401, "PR", tStart, cc.localKeepAlive())
			}
		case actSetHeader:
			delHeaders(&req.Head, r.name)
			req.Headers = append(req.Headers, h1.Header{Name: r.name, Value: r.value, Kind: r.kind})
		case actAddHeader:
			req.Headers = append(req.Headers, h1.Header{Name: r.name, Value: r.value, Kind: r.kind})
		case actDelHeader:
			delHeaders(&req.Head, r.name)
		case actReplaceHeader:
			replaceHeaders(&req.Head, r)
		case actSetPath:
			cc.replacePath(requestPath(req.URI), r.value)
			p := requestPath(req.URI)
			if fe.normalize != NormalizeOff {
				p = normalizePath(&cc.rules.npath, p)
			}
			m.path = p
		case actSetVar:
			cc.setVar(r)
		case actTrack:
			rs := &cc.rules
			if rs.sc[r.slot].e != nil {
				break // the slot is taken: HAProxy ignores the rule
			}
			var e *stickEntry
			if r.keyHdr == nil {
				e = r.table.track(m.src, nil, false)
			} else if v := hdrOcc(&req.Head, r.keyHdr, r.keyOcc); v != nil {
				if a, err := netip.ParseAddr(string(v)); err == nil {
					e = r.table.track(a.Unmap(), nil, false)
				} else {
					e = r.table.track(netip.Addr{}, v, false)
				}
			}
			if e != nil {
				rs.sc[r.slot] = scTrack{t: r.table, e: e}
			}
		}
	}
	return false, false
}

// tarpitWait holds a tarpitted request for d, or until a soft stop begins
// (so that a stop does not wait for tarpits).
func (cc *clientConn) tarpitWait(d time.Duration) {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 || cc.e.stopping.Load() {
			return
		}
		time.Sleep(min(left, 100*time.Millisecond))
	}
}

// endRequestTracking releases the request's trackers, counting its status
// and bytes; emit calls it once per request.
func (cc *clientConn) endRequestTracking() {
	rs := &cc.rules
	for i := range rs.sc {
		if s := &rs.sc[i]; s.e != nil {
			s.t.release(s.e, cc.rec.Status, uint64(cc.req.Len), uint64(cc.rec.BytesRead))
			s.e, s.t = nil, nil
		}
	}
}

func (cc *clientConn) setVar(r *httpRule) {
	rs := &cc.rules
	req := &cc.req
	var v []byte
	switch r.vexpr {
	case varStr:
		v = r.value
	case varPath:
		v = requestPath(req.URI)
	case varMethod:
		v = req.Method
	case varSrc:
		v = cc.src.Addr().AppendTo(rs.srcBuf[:0])
	case varHdr:
		v = hdrOcc(&req.Head, r.name, -1)
		if v == nil {
			return
		}
	}
	rs.vars[r.vr] = v
	rs.varSet |= 1 << r.vr
}

// hdrOcc returns the occ-th comma-separated value of the headers called
// name (occ > 0 from the first, < 0 from the last), or nil.
func hdrOcc(h *h1.Head, name []byte, occ int) []byte {
	if occ > 0 {
		n := 0
		for i := range h.Headers {
			hd := &h.Headers[i]
			if !bytes.EqualFold(hd.Name, name) {
				continue
			}
			v := hd.Value
			for len(v) > 0 {
				part := v
				if j := bytes.IndexByte(v, ','); j >= 0 {
					part, v = v[:j], v[j+1:]
				} else {
					v = nil
				}
				if n++; n == occ {
					return bytes.TrimSpace(part)
				}
			}
		}
		return nil
	}
	n := 0
	for i := len(h.Headers) - 1; i >= 0; i-- {
		hd := &h.Headers[i]
		if !bytes.EqualFold(hd.Name, name) {
			continue
		}
		v := hd.Value
		for len(v) > 0 {
			part := v
			if j := bytes.LastIndexByte(v, ','); j >= 0 {
				part, v = v[j+1:], v[:j]
			} else {
				v = nil
			}
			if n--; n == occ {
				return bytes.TrimSpace(part)
			}
		}
	}
	return nil
}

func delHeaders(h *h1.Head, name []byte) {
	out := h.Headers[:0]
	for _, hd := range h.Headers {
		if !bytes.EqualFold(hd.Name, name) {
			out = append(out, hd)
		}
	}
	clear(h.Headers[len(out):])
	h.Headers = out
}

func replaceHeaders(h *h1.Head, r *httpRule) {
	for i := range h.Headers {
		hd := &h.Headers[i]
		if bytes.EqualFold(hd.Name, r.name) && r.re.Match(hd.Value) {
			v := r.re.ReplaceAll(hd.Value, r.value)
			if validHeaderValue(string(v)) {
				hd.Value = v
			}
		}
	}
}

// localKeepAlive: whether the connection may go on after an answer the
// proxy makes itself (a request with a body closes it: the body is not
// read).
func (cc *clientConn) localKeepAlive() bool {
	req := &cc.req
	return req.KeepAlive() && !cc.fe.httpClose && cc.keepServing(cc.fe) && req.RequestBody() == h1.BodyNone
}

// ruleReply sends an answer the rules made (on an HTTP/2 stream, as the
// stream's HEADERS and DATA: localSend): page is a whole response when
// body is nil and !ka... or a head without its Connection header and final
// CRLF, followed by body.
func (cc *clientConn) ruleReply(page, body []byte, code int, term string, tStart time.Time, ka bool) bool {
	cc.out.hold()
	b := append(cc.out.b[:0], page...)
	if body != nil {
		if !ka {
			b = append(b, "Connection: close\r\n"...)
		} else if cc.req.Minor == 0 {
			b = append(b, "Connection: keep-alive\r\n"...)
		}
		b = append(b, crlf...)
		if string(cc.req.Method) != "HEAD" {
			b = append(b, body...)
		}
	}
	cc.out.b = b
	return cc.localSend(code, term, tStart, ka)
}

func (cc *clientConn) localSend(code int, term string, tStart time.Time, ka bool) bool {
	fe := cc.fe
	n := len(cc.out.b)
	fe.st.status(code)
	fe.st.bytesOut.Add(uint64(n))
	cc.rec.Status = code
	cc.rec.BytesRead = int64(n)
	cc.term[0], cc.term[1] = term[0], term[1]
	cc.emit(tStart, true)
	if cc.h2 != nil {
		// An HTTP/2 stream: the answer goes out as HEADERS and DATA on
		// the stream (its Connection header dropped), which ends with it.
		err := cc.h2.sendPage(cc.out.b)
		cc.out.releaseBuf()
		return err == nil && ka
	}
	if cc.finishResponse() != nil {
		return false
	}
	return ka
}

func (cc *clientConn) redirect(r *httpRule, tStart time.Time) bool {
	req := &cc.req
	if r.redir == redirScheme && len(req.Host) == 0 {
		fe := cc.fe
		fe.st.errReq.Add(1)
		return cc.ruleReply(fe.errorPage(400), nil, 400, "PR", tStart, false)
	}
	ka := cc.localKeepAlive()
	cc.out.hold()
	b := append(cc.out.b[:0], r.page...) // status line up to "Location: "
	switch r.redir {
	case redirLocation:
		b = append(b, r.target...)
	case redirPrefix:
		b = append(b, r.target...)
		b = append(b, originForm(req.URI)...)
	case redirScheme:
		b = append(b, r.target...)
		b = append(b, "://"...)
		b = append(b, req.Host...)
		b = append(b, originForm(req.URI)...)
	}
	b = append(b, "\r\nCache-Control: no-cache\r\n"...)
	if !ka {
		b = append(b, "Connection: close\r\n"...)
	} else if req.Minor == 0 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	cc.out.b = append(b, crlf...)
	return cc.localSend(r.status, "LR", tStart, ka)
}

// originForm is the path and query of a request target.
func originForm(uri []byte) []byte {
	p := requestPath(uri)
	if p == nil {
		return []byte("/")
	}
	return uri[cap(uri)-cap(p):]
}

// authorized checks Basic credentials against users in constant time
// (CheckBasicAuth).
func (cc *clientConn) authorized(users []string) bool {
	v := cc.req.Get("Authorization")
	if len(v) < 6 || !h1.EqualFold(v[:6], "basic ") {
		return false
	}
	enc := bytes.TrimSpace(v[6:])
	var buf [512]byte
	if base64.StdEncoding.DecodedLen(len(enc)) > len(buf) {
		return false
	}
	n, err := base64.StdEncoding.Decode(buf[:], enc)
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(buf[:n]), ":")
	return ok && CheckBasicAuth(users, user, pass)
}

// httpResponseRules edits the response head (http-response rules).
func (cc *clientConn) httpResponseRules() {
	m := cc.requestMatch()
	resp := &cc.resp
	for i := range cc.fe.respRules {
		r := &cc.fe.respRules[i]
		if r.cond != nil && !r.cond.eval(&m) {
			continue
		}
		switch r.act {
		case actSetHeader:
			delHeaders(&resp.Head, r.name)
			resp.Headers = append(resp.Headers, h1.Header{Name: r.name, Value: r.value, Kind: r.kind})
		case actAddHeader:
			resp.Headers = append(resp.Headers, h1.Header{Name: r.name, Value: r.value, Kind: r.kind})
		case actDelHeader:
			delHeaders(&resp.Head, r.name)
		}
	}
}

// tcpRules runs tcp-request connection (or content) rules on a
// connection: false means reject. Trackers go into ct, or into a new
// connTrack when ct is nil (returned; nil when none), released when the
// connection ends. On a reject the trackers a nil ct got are released.
func tcpRules(rules []httpRule, src netip.Addr, ct *connTrack) (*connTrack, bool) {
	own := ct == nil
	m := matchCtx{src: src}
	for i := range rules {
		r := &rules[i]
		m.ct = ct
		if r.cond != nil && !r.cond.eval(&m) {
			continue
		}
		switch r.act {
		case actAccept:
			return ct, true
		case actReject:
			if own {
				ct.release(0, 0)
				return nil, false
			}
			return ct, false
		case actTrack:
			if ct == nil {
				ct = &connTrack{}
			}
			if ct.sc[r.slot].e == nil {
				if e := r.table.track(src, nil, true); e != nil {
					ct.sc[r.slot] = scTrack{t: r.table, e: e}
				}
			}
		}
	}
	return ct, true
}

// remoteAddr is a connection's peer address, IPv4-mapped ones unmapped.
func remoteAddr(c *net.TCPConn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}
