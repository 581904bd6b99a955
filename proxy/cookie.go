package proxy

import (
	"bytes"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// cookiePair splits one "name=value" element of a Cookie header.
func cookiePair(p []byte) (name, value []byte) {
	p = bytes.TrimSpace(p)
	if i := bytes.IndexByte(p, '='); i >= 0 {
		return bytes.TrimSpace(p[:i]), bytes.TrimSpace(p[i+1:])
	}
	return p, nil
}

// findCookie returns the value of cookie name in the request's Cookie
// headers (first occurrence).
func findCookie(req *h1.Request, name string) ([]byte, bool) {
	for i := range req.Headers {
		h := &req.Headers[i]
		if h.Kind != h1.KindCookie {
			continue
		}
		v := h.Value
		for len(v) > 0 {
			j := bytes.IndexByte(v, ';')
			elem := v
			if j >= 0 {
				elem, v = v[:j], v[j+1:]
			} else {
				v = nil
			}
			n, val := cookiePair(elem)
			if string(n) == name {
				return val, true
			}
		}
	}
	return nil, false
}

// persistTarget finds the server a persistence cookie value designates. In
// prefix mode the value is "<server cookie>~<application value>".
func (b *backend) persistTarget(val []byte) *server {
	ck := b.cookie
	if ck.mode == CookiePrefix {
		i := bytes.IndexByte(val, '~')
		if i < 0 {
			return nil
		}
		val = val[:i]
	}
	if len(val) == 0 {
		return nil
	}
	for _, s := range b.servers {
		if s.cookie != "" && string(val) == s.cookie {
			return s
		}
	}
	return nil
}

// appendCookieHeader writes a request Cookie header with the persistence
// cookie removed (insert+indirect) or its server prefix stripped (prefix
// mode). The header is dropped when no cookie is left.
func appendCookieHeader(dst []byte, h *h1.Header, ck *cookieCfg) []byte {
	if ck == nil || !(ck.mode == CookiePrefix || (ck.mode == CookieInsert && ck.indirect)) {
		return h1.AppendHeader(dst, h.Name, h.Value)
	}
	start := len(dst)
	dst = append(dst, h.Name...)
	dst = append(dst, ':', ' ')
	valStart := len(dst)
	v := h.Value
	for len(v) > 0 {
		j := bytes.IndexByte(v, ';')
		elem := v
		if j >= 0 {
			elem, v = v[:j], v[j+1:]
		} else {
			v = nil
		}
		elem = bytes.TrimSpace(elem)
		if len(elem) == 0 {
			continue
		}
		n, val := cookiePair(elem)
		if string(n) == ck.name {
			if ck.mode != CookiePrefix {
				continue
			}
			if i := bytes.IndexByte(val, '~'); i >= 0 {
				if len(dst) > valStart {
					dst = append(dst, ';', ' ')
				}
				dst = append(dst, n...)
				dst = append(dst, '=')
				dst = append(dst, val[i+1:]...)
				continue
			}
		}
		if len(dst) > valStart {
			dst = append(dst, ';', ' ')
		}
		dst = append(dst, elem...)
	}
	if len(dst) == valStart {
		return dst[:start]
	}
	return append(dst, '\r', '\n')
}

// setCookieName returns the cookie name a Set-Cookie value sets.
func setCookieName(v []byte) (name, value, attrs []byte) {
	first := v
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		first, attrs = v[:i], v[i:]
	}
	name, value = cookiePair(first)
	return name, value, attrs
}

// appendInsertedCookie writes our Set-Cookie for server cookie value val
// (empty val: a removal cookie).
func appendInsertedCookie(dst []byte, ck *cookieCfg, val string) []byte {
	dst = append(dst, "Set-Cookie: "...)
	dst = append(dst, ck.name...)
	dst = append(dst, '=')
	if val == "" {
		dst = append(dst, "; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"...)
	} else {
		dst = append(dst, val...)
		dst = append(dst, "; path=/"...)
	}
	if ck.domain != "" {
		dst = append(dst, "; domain="...)
		dst = append(dst, ck.domain...)
	}
	if ck.httpOnly {
		dst = append(dst, "; HttpOnly"...)
	}
	if ck.secure {
		dst = append(dst, "; Secure"...)
	}
	return append(dst, '\r', '\n')
}

// uncacheable reports whether response headers already forbid shared
// caching, so nocache needs to add nothing.
func uncacheable(resp *h1.Response) bool {
	for i := range resp.Headers {
		h := &resp.Headers[i]
		switch h.Kind {
		case h1.KindCacheControl:
			if containsFold(h.Value, "private") || containsFold(h.Value, "no-cache") || containsFold(h.Value, "no-store") {
				return true
			}
		case h1.KindPragma:
			if containsFold(h.Value, "no-cache") {
				return true
			}
		}
	}
	return false
}

func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if h1.EqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}
