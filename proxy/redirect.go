package proxy

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// redirectRule is a compiled Redirect.
type redirectRule struct {
	cond *condition // nil: always
	code int
	// prefix is "SCHEME://", the start of the Location value.
	prefix []byte
	// head is the status line, up to and including "Location: ".
	head []byte
}

var redirectReasons = map[int]string{
	301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
}

func compileRedirect(r Redirect, mode Mode, named map[string][]*acl) (redirectRule, error) {
	if mode != ModeHTTP {
		return redirectRule{}, fmt.Errorf("redirect: mode http only")
	}
	code := r.Code
	if code == 0 {
		code = 302
	}
	reason, ok := redirectReasons[code]
	if !ok {
		return redirectRule{}, fmt.Errorf("redirect: code %d (want 301, 302, 303, 307 or 308)", r.Code)
	}
	if r.Scheme == "" {
		return redirectRule{}, fmt.Errorf("redirect: no scheme")
	}
	rr := redirectRule{code: code, prefix: []byte(r.Scheme + "://"),
		head: []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\nContent-Length: 0\r\nLocation: ")}
	var err error
	switch {
	case r.If != "":
		rr.cond, err = compileCondition(r.If, false, named)
	case r.Unless != "":
		rr.cond, err = compileCondition(r.Unless, true, named)
	}
	if err != nil {
		return redirectRule{}, fmt.Errorf("redirect scheme %s: %w", r.Scheme, err)
	}
	return rr, nil
}

// findHost returns the request's Host header value.
func findHost(req *h1.Request) []byte {
	for i := range req.Headers {
		h := &req.Headers[i]
		if len(h.Name) == 4 && h1.EqualFold(h.Name, "host") {
			return h.Value
		}
	}
	return nil
}

// redirect answers the first matching redirect rule; it reports whether one
// did (handled) and whether the connection may carry another request.
func (cc *clientConn) redirect(m *matchCtx, tStart time.Time) (handled, ka bool) {
	req := &cc.req
	for i := range cc.fe.redirects {
		r := &cc.fe.redirects[i]
		if r.cond != nil && !r.cond.eval(m) {
			continue
		}
		host := findHost(req)
		if len(host) == 0 {
			return false, false
		}
		fe := cc.fe
		// The body, if any, is not read: close after the answer then.
		ka = req.KeepAlive() && req.RequestBody() == h1.BodyNone && !fe.httpClose && !cc.e.stopping.Load() && cc.cur.Load() == fe
		cc.out.hold()
		b := append(cc.out.b[:0], r.head...)
		b = append(b, r.prefix...)
		b = append(b, host...)
		b = append(b, requestPath(req.URI)...)
		if q := bytes.IndexByte(req.URI, '?'); q >= 0 {
			b = append(b, req.URI[q:]...)
		}
		b = append(b, crlf...)
		if !ka {
			b = append(b, "Connection: close\r\n"...)
		}
		b = append(b, crlf...)
		cc.out.b = b
		n := int64(len(b))
		err := cc.finishResponse()
		fe.st.status(r.code)
		fe.st.bytesOut.Add(uint64(n))
		cc.rec.Status = r.code
		cc.rec.BytesRead = n
		cc.term[0], cc.term[1] = 'L', 'R'
		cc.emit(tStart, true)
		return true, ka && err == nil
	}
	return false, false
}
