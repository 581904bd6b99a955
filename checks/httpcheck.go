package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"time"
)

// MaxResponse bounds how much of an HTTP check response is read (HAProxy's
// tune.chksize default).
const MaxResponse = 16 << 10

// Expect is a compiled `http-check expect`. The zero value passes any 2xx or
// 3xx status.
type Expect struct {
	// Status: the status must equal it.
	Status int
	// RStatus: the status code (as decimal text) must match it.
	RStatus *regexp.Regexp
	// String: the body must contain it (the status is then not checked, as
	// in HAProxy).
	String string
}

// MatchStatus reports whether an HTTP status passes (String aside).
func (e Expect) MatchStatus(code int) bool {
	switch {
	case e.Status > 0:
		return code == e.Status
	case e.RStatus != nil:
		return e.RStatus.MatchString(strconv.Itoa(code))
	}
	return code >= 200 && code < 400
}

// HTTPCheck sends one HTTP request after connecting (option httpchk) and
// judges the response.
type HTTPCheck struct {
	Addr string
	// Request is the raw request written after connect; see BuildRequest.
	Request  []byte
	Expect   Expect
	Timeouts Timeouts
	Dialer   Dialer
	// SendProxy and TLS: as TCPCheck's.
	SendProxy int
	TLS       *tls.Config
}

// BuildRequest renders the check request. Empty method, uri and version
// default to OPTIONS / HTTP/1.0 (no Host header unless host is set, as
// HAProxy). With HTTP/1.1 a Host header (host, or else addr) and
// "Connection: close" are sent. Values must already be validated (no CR, LF
// or spaces where the request line forbids them).
func BuildRequest(method, uri, version, host, addr string) []byte {
	if method == "" {
		method = "OPTIONS"
	}
	if uri == "" {
		uri = "/"
	}
	if version == "" {
		version = "HTTP/1.0"
	}
	var b bytes.Buffer
	b.WriteString(method + " " + uri + " " + version + "\r\n")
	v11 := version != "HTTP/1.0"
	if host == "" && v11 {
		host = addr
		if h, p, err := net.SplitHostPort(addr); err == nil && p == "80" {
			host = h
			if bytes.IndexByte([]byte(h), ':') >= 0 {
				host = "[" + h + "]"
			}
		}
	}
	if host != "" {
		b.WriteString("Host: " + host + "\r\n")
	}
	if v11 {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// Check implements Checker.
func (c *HTTPCheck) Check(ctx context.Context) Result {
	start := time.Now()
	connectTO, readTO, whole := c.Timeouts.Split()
	conn, r := dial(ctx, c.Dialer, c.Addr, start.Add(connectTO), c.SendProxy, c.TLS)
	if conn == nil {
		r.Duration = time.Since(start)
		return r
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	deadline := time.Now().Add(readTO)
	if whole {
		deadline = start.Add(readTO)
	}
	_ = conn.SetDeadline(deadline)
	r = c.exchange(conn)
	if ctx.Err() != nil {
		r = Result{Code: SOCKERR, Info: "aborted"}
	}
	r.Duration = time.Since(start)
	return r
}

func (c *HTTPCheck) exchange(conn net.Conn) Result {
	if _, err := conn.Write(c.Request); err != nil {
		if isTimeout(err) {
			return Result{Code: L7TOUT}
		}
		return Result{Code: L7RSP, Info: errInfo(err)}
	}
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*cap(buf), MaxResponse))
			copy(nb, buf)
			buf = nb
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := (err != nil && !isTimeout(err)) || len(buf) >= MaxResponse
		if r, done := EvalResponse(buf, eof, c.Expect); done {
			return r
		}
		if err != nil {
			switch {
			case isTimeout(err):
				return Result{Code: L7TOUT}
			case errors.Is(err, io.EOF):
				return Result{Code: L7RSP, Info: "Connection closed"}
			}
			return Result{Code: L7RSP, Info: errInfo(err)}
		}
	}
}

// EvalResponse judges the response bytes read so far. eof says no more bytes
// will come (EOF, error or the MaxResponse bound). It returns done=false when
// more bytes are needed to decide. Hostile input never panics.
func EvalResponse(buf []byte, eof bool, e Expect) (Result, bool) {
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		if !eof {
			return Result{}, false
		}
		if len(buf) == 0 {
			return Result{Code: L7RSP, Info: "Empty response"}, true
		}
		return Result{Code: L7RSP, Info: "Truncated status line"}, true
	}
	code, ok := ParseStatusLine(buf[:nl])
	if !ok {
		return Result{Code: L7RSP, Info: "Invalid status line"}, true
	}
	if e.String == "" {
		if e.MatchStatus(code) {
			return Result{Code: L7OK, Status: code}, true
		}
		return Result{Code: L7STS, Status: code}, true
	}
	// The header block ends at the first empty line after the status line.
	tail := buf[nl:]
	end, sep := bytes.Index(tail, []byte("\n\r\n")), 3
	if i := bytes.Index(tail, []byte("\n\n")); i >= 0 && (end < 0 || i < end) {
		end, sep = i, 2
	}
	if end < 0 {
		if eof {
			return Result{Code: L7RSP, Status: code, Info: "Truncated headers"}, true
		}
		return Result{}, false
	}
	rest := tail[:end+1]
	body := tail[end+sep:]
	if bytes.Contains(body, []byte(e.String)) {
		return Result{Code: L7OK, Status: code}, true
	}
	cl := contentLength(rest)
	if eof || (cl >= 0 && len(body) >= cl) {
		return Result{Code: L7RSP, Status: code, Info: "HTTP content check did not match"}, true
	}
	return Result{}, false
}

// ParseStatusLine parses "HTTP/x.y NNN [reason]" (a trailing CR allowed) and
// returns the status code.
func ParseStatusLine(line []byte) (int, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/")) || line[8] != ' ' {
		return 0, false
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, false
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, false
	}
	return code, true
}

// contentLength returns the Content-Length header value, or -1.
func contentLength(hdr []byte) int {
	for _, ln := range bytes.Split(hdr, []byte("\n")) {
		k, v, ok := bytes.Cut(ln, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("content-length")) {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	return -1
}
