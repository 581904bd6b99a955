package h1

import (
	"bytes"
	"errors"
)

// Limits, matching HAProxy's defaults (bufsize 16384 - maxrewrite 1024 and
// tune.http.maxhdr 101 lines including the start line).
const (
	MaxHeaders   = 100
	MaxHeadBytes = 15360
	// maxLeadingEmpty bounds the empty lines skipped before a request line.
	maxLeadingEmpty = 4
)

// ErrIncomplete means the buffer does not yet hold a whole message head.
var ErrIncomplete = errors.New("h1: incomplete message head")

// Error is a protocol violation; Status is the HTTP status a proxy should
// answer a request with (responses that fail to parse become 502).
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return "h1: " + e.Msg }

func perr(msg string) *Error { return &Error{Status: 400, Msg: msg} }

// Pre-built errors: returning them allocates nothing.
var (
	errBadRequestLine = perr("malformed request line")
	errBadMethod      = perr("invalid method")
	errBadURI         = perr("invalid request target")
	errFragment       = perr("'#' in request target")
	errBadVersion     = perr("unsupported HTTP version")
	errBadStatusLine  = perr("malformed status line")
	errBadHeaderName  = perr("invalid header name")
	errBadHeaderValue = perr("invalid character in header value")
	errObsFold        = perr("obsolete line folding")
	errTooManyHeaders = perr("too many header lines")
	errTooLarge       = perr("message head too large")
	errBadCL          = perr("invalid Content-Length")
	errConflictCL     = perr("conflicting Content-Length")
	errBadTE          = perr("unsupported Transfer-Encoding")
	errBareCR         = perr("bare CR in message head")
	errHostConflict   = perr("conflicting Host headers")
	errBadChunk       = perr("malformed chunk size")
	errChunkTooBig    = perr("chunk size too large")
)

// Kind classifies the header names the proxy acts on.
type Kind uint8

// Header kinds.
const (
	KindOther Kind = iota
	KindContentLength
	KindTransferEncoding
	KindConnection
	KindKeepAlive
	KindProxyConnection
	KindHost
	KindCookie
	KindSetCookie
	KindExpect
	KindUpgrade
	KindCacheControl
	KindPragma
	KindTE
	KindTrailer
)

// Header is one header line; Name and Value point into the parsed buffer.
// Value has surrounding whitespace removed.
type Header struct {
	Name  []byte
	Value []byte
	Kind  Kind
}

// Head is what requests and responses share.
type Head struct {
	Headers []Header
	// Minor is the HTTP/1.x minor version (0 or 1).
	Minor int
	// ContentLength is -1 when absent (or dropped because of
	// Transfer-Encoding).
	ContentLength int64
	// Chunked: Transfer-Encoding ends with chunked.
	Chunked bool
	// HasTE: a Transfer-Encoding header is present.
	HasTE bool
	// ConnClose/ConnKeepAlive/ConnUpgrade: tokens of Connection headers.
	ConnClose     bool
	ConnKeepAlive bool
	ConnUpgrade   bool
	// ForceClose: the message was ambiguous but repaired (CL+TE, TE on
	// HTTP/1.0); the connection must be closed after this exchange.
	ForceClose bool
	// Len is the length of the head, final empty line included.
	Len int
}

// Request is a parsed request head.
type Request struct {
	Head
	Method []byte
	URI    []byte
	// Host is the (single, validated) Host header value, nil if absent.
	Host []byte
	// Expect100: "Expect: 100-continue".
	Expect100 bool
	// Upgrade: the request asks for a protocol switch (Connection: upgrade
	// and an Upgrade header).
	Upgrade bool
}

// Response is a parsed response head.
type Response struct {
	Head
	Status int
	Reason []byte
}

// Reset prepares r for reuse, keeping the header slice's capacity.
func (h *Head) reset() {
	hs := h.Headers[:0]
	*h = Head{Headers: hs, ContentLength: -1}
}

// KeepAlive reports whether the sender of this head allows the connection
// to be reused after the exchange.
func (h *Head) KeepAlive() bool {
	if h.ForceClose || h.ConnClose {
		return false
	}
	if h.Minor == 0 {
		return h.ConnKeepAlive
	}
	return true
}

// Get returns the first value of header name (case-insensitive), or nil.
func (h *Head) Get(name string) []byte {
	for i := range h.Headers {
		if EqualFold(h.Headers[i].Name, name) {
			return h.Headers[i].Value
		}
	}
	return nil
}

// ParseRequest parses the request head at the start of buf into r. It
// returns ErrIncomplete when more bytes are needed, or an *Error.
func ParseRequest(buf []byte, r *Request) error {
	r.reset()
	r.Method, r.URI, r.Host = nil, nil, nil
	r.Expect100, r.Upgrade = false, false
	p := 0
	// Skip a few empty lines before the request line (RFC 9112 2.2).
	for i := 0; i < maxLeadingEmpty; i++ {
		if p < len(buf) && buf[p] == '\n' {
			p++
		} else if p+1 < len(buf) && buf[p] == '\r' && buf[p+1] == '\n' {
			p += 2
		} else {
			break
		}
	}
	line, next, err := nextLine(buf, p)
	if err != nil {
		return err
	}
	if err := parseRequestLine(line, r); err != nil {
		return err
	}
	if err := parseHeaders(buf, next, &r.Head, true); err != nil {
		return err
	}
	return r.finish()
}

func (r *Request) finish() error {
	for i := range r.Headers {
		h := &r.Headers[i]
		switch h.Kind {
		case KindHost:
			if r.Host != nil && !bytes.Equal(r.Host, h.Value) {
				return errHostConflict
			}
			r.Host = h.Value
		case KindExpect:
			if EqualFold(h.Value, "100-continue") {
				r.Expect100 = true
			}
		case KindUpgrade:
			r.Upgrade = len(h.Value) > 0
		}
	}
	r.Upgrade = r.Upgrade && r.ConnUpgrade
	if r.HasTE {
		if !r.Chunked {
			return errBadTE
		}
		if r.Minor == 0 {
			r.ForceClose = true
		}
	}
	return nil
}

// ParseResponse parses the response head at the start of buf into r.
func ParseResponse(buf []byte, r *Response) error {
	r.reset()
	r.Status, r.Reason = 0, nil
	line, next, err := nextLine(buf, 0)
	if err != nil {
		return err
	}
	if err := parseStatusLine(line, r); err != nil {
		return err
	}
	if err := parseHeaders(buf, next, &r.Head, false); err != nil {
		return err
	}
	return nil
}

// nextLine returns the line starting at p without its terminator and the
// offset after the terminator. Lines end in CRLF or a bare LF; a CR not
// followed by LF is an error.
func nextLine(buf []byte, p int) (line []byte, next int, err error) {
	i := bytes.IndexByte(buf[p:], '\n')
	if i < 0 {
		if len(buf) > MaxHeadBytes {
			return nil, 0, errTooLarge
		}
		return nil, 0, ErrIncomplete
	}
	end := p + i
	if end+1 > MaxHeadBytes {
		return nil, 0, errTooLarge
	}
	next = end + 1
	if end > p && buf[end-1] == '\r' {
		end--
	}
	return buf[p:end], next, nil
}

func parseRequestLine(line []byte, r *Request) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadRequestLine
	}
	method := line[:sp1]
	for _, c := range method {
		if !isToken(c) {
			return errBadMethod
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errBadRequestLine
	}
	uri := rest[:sp2]
	for _, c := range uri {
		if c <= 0x20 || c >= 0x7f {
			return errBadURI
		}
		if c == '#' {
			return errFragment
		}
	}
	if uri[0] != '/' && uri[0] != '*' && !isAbsoluteForm(uri) && !isAuthorityForm(method, uri) {
		return errBadURI
	}
	minor, ok := parseVersion(rest[sp2+1:])
	if !ok {
		return errBadVersion
	}
	r.Method, r.URI, r.Minor = method, uri, minor
	return nil
}

func isAbsoluteForm(uri []byte) bool {
	i := bytes.Index(uri, []byte("://"))
	if i <= 0 {
		return false
	}
	for _, c := range uri[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isAuthorityForm(method, uri []byte) bool {
	return string(method) == "CONNECT" && bytes.IndexByte(uri, ':') > 0
}

func parseVersion(v []byte) (int, bool) {
	if len(v) != 8 || string(v[:7]) != "HTTP/1." {
		return 0, false
	}
	switch v[7] {
	case '0':
		return 0, true
	case '1':
		return 1, true
	}
	return 0, false
}

func parseStatusLine(line []byte, r *Response) error {
	if len(line) < 12 || line[8] != ' ' {
		return errBadStatusLine
	}
	minor, ok := parseVersion(line[:8])
	if !ok {
		return errBadVersion
	}
	s := line[9:12]
	if s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return errBadStatusLine
	}
	r.Minor = minor
	r.Status = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if len(line) > 12 {
		if line[12] != ' ' {
			return errBadStatusLine
		}
		reason := line[13:]
		for _, c := range reason {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return errBadStatusLine
			}
		}
		r.Reason = reason
	}
	return nil
}

func parseHeaders(buf []byte, p int, h *Head, isReq bool) error {
	var cl int64 = -1
	for {
		line, next, err := nextLine(buf, p)
		if err != nil {
			return err
		}
		p = next
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
		}
		if len(h.Headers) >= MaxHeaders {
			return errTooManyHeaders
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errBadHeaderName
		}
		name := line[:colon]
		for _, c := range name {
			if !isToken(c) {
				return errBadHeaderName
			}
		}
		v := line[colon+1:]
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		for _, c := range v {
			if c < 0x20 && c != '\t' || c == 0x7f {
				if c == '\r' {
					return errBareCR
				}
				return errBadHeaderValue
			}
		}
		k := classify(name)
		switch k {
		case KindContentLength:
			n, err := parseContentLength(v)
			if err != nil {
				return err
			}
			if cl >= 0 && cl != n {
				return errConflictCL
			}
			cl = n
		case KindTransferEncoding:
			if err := parseTE(v, h, isReq); err != nil {
				return err
			}
		case KindConnection:
			parseConnection(v, h)
		}
		h.Headers = append(h.Headers, Header{Name: name, Value: v, Kind: k})
	}
	h.Len = p
	if h.HasTE {
		if cl >= 0 {
			h.ForceClose = true
		}
		cl = -1
	}
	h.ContentLength = cl
	return nil
}

// parseContentLength accepts digits, or a comma list of identical values.
func parseContentLength(v []byte) (int64, error) {
	var result int64 = -1
	for {
		i := bytes.IndexByte(v, ',')
		elem := v
		if i >= 0 {
			elem = v[:i]
		}
		elem = trimOWS(elem)
		if len(elem) == 0 || len(elem) > 18 {
			return 0, errBadCL
		}
		var n int64
		for _, c := range elem {
			if c < '0' || c > '9' {
				return 0, errBadCL
			}
			n = n*10 + int64(c-'0')
		}
		if result >= 0 && n != result {
			return 0, errConflictCL
		}
		result = n
		if i < 0 {
			return result, nil
		}
		v = v[i+1:]
	}
}

func parseTE(v []byte, h *Head, isReq bool) error {
	h.HasTE = true
	for {
		i := bytes.IndexByte(v, ',')
		elem := v
		if i >= 0 {
			elem = v[:i]
		}
		elem = trimOWS(elem)
		if len(elem) == 0 {
			return errBadTE
		}
		if EqualFold(elem, "chunked") {
			if h.Chunked {
				return errBadTE // chunked applied twice
			}
			h.Chunked = true
		} else if h.Chunked {
			// A coding after chunked: the request cannot be framed.
			if isReq {
				return errBadTE
			}
			h.Chunked = false
		} else {
			for _, c := range elem {
				if !isToken(c) && c != ';' && c != '=' && c != ' ' && c != '"' {
					return errBadTE
				}
			}
		}
		if i < 0 {
			return nil
		}
		v = v[i+1:]
	}
}

func parseConnection(v []byte, h *Head) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		elem := v
		if i >= 0 {
			elem = v[:i]
			v = v[i+1:]
		} else {
			v = nil
		}
		elem = trimOWS(elem)
		switch {
		case EqualFold(elem, "close"):
			h.ConnClose = true
		case EqualFold(elem, "keep-alive"):
			h.ConnKeepAlive = true
		case EqualFold(elem, "upgrade"):
			h.ConnUpgrade = true
		}
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

var kindNames = [...]struct {
	name string
	kind Kind
}{
	{"content-length", KindContentLength},
	{"transfer-encoding", KindTransferEncoding},
	{"connection", KindConnection},
	{"keep-alive", KindKeepAlive},
	{"proxy-connection", KindProxyConnection},
	{"host", KindHost},
	{"cookie", KindCookie},
	{"set-cookie", KindSetCookie},
	{"expect", KindExpect},
	{"upgrade", KindUpgrade},
	{"cache-control", KindCacheControl},
	{"pragma", KindPragma},
	{"te", KindTE},
	{"trailer", KindTrailer},
}

// kindsByLen holds kindNames by name length: classify compares a name
// with at most three of them.
var kindsByLen = func() (t [18][]int) {
	for i, k := range kindNames {
		t[len(k.name)] = append(t[len(k.name)], i)
	}
	return
}()

func classify(name []byte) Kind {
	if len(name) >= len(kindsByLen) {
		return KindOther
	}
	for _, i := range kindsByLen[len(name)] {
		if EqualFold(name, kindNames[i].name) {
			return kindNames[i].kind
		}
	}
	return KindOther
}

// EqualFold compares b with an ASCII string s case-insensitively.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// tokenTable marks RFC 9110 tchar bytes.
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(c byte) bool { return tokenTable[c] }

// ParseChunkSize parses one chunk-size line (without CRLF, which the caller
// has checked): hex digits, optionally followed by ";extensions". The
// extensions are validated and dropped.
func ParseChunkSize(line []byte) (int64, error) {
	if len(line) == 0 {
		return 0, errBadChunk
	}
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto ext
		}
		if i >= 15 {
			return 0, errChunkTooBig
		}
		n = n<<4 | int64(d)
	}
	return n, nil
ext:
	if i == 0 {
		return 0, errBadChunk
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return n, nil
	}
	if rest[0] != ';' {
		return 0, errBadChunk
	}
	for _, c := range rest {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return 0, errBadChunk
		}
	}
	return n, nil
}

// ValidTrailerLine checks one trailer field line (without CRLF).
func ValidTrailerLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if !isToken(c) {
			return false
		}
	}
	for _, c := range line[colon+1:] {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// BodyKind says how a message body is delimited.
type BodyKind uint8

// Body kinds.
const (
	BodyNone BodyKind = iota
	BodyLength
	BodyChunked
	BodyClose
)

// RequestBody returns how the request body is delimited.
func (r *Request) RequestBody() BodyKind {
	switch {
	case r.Chunked:
		return BodyChunked
	case r.ContentLength > 0:
		return BodyLength
	}
	return BodyNone
}

// ResponseBody returns how the response body is delimited given the request
// method (HEAD responses have no body).
func (r *Response) ResponseBody(head bool) BodyKind {
	switch {
	case head || r.Status < 200 || r.Status == 204 || r.Status == 304:
		return BodyNone
	case r.Chunked:
		return BodyChunked
	case r.HasTE:
		return BodyClose
	case r.ContentLength == 0:
		return BodyNone
	case r.ContentLength > 0:
		return BodyLength
	}
	return BodyClose
}
