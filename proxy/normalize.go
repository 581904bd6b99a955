package proxy

import "bytes"

// NormalizeURI says how a frontend treats request paths that spell the same
// resource in several ways (HAProxy 2.4+'s `http-request normalize-uri`:
// percent-decoding of unreserved characters, dot segments, merged
// slashes). Case is kept: /ADMIN is not /admin.
type NormalizeURI uint8

const (
	// NormalizeACL (the zero value): ACL path fetches (path, path_beg, ...)
	// see the normalised path, so that a deny rule on /admin also holds
	// against /%61dmin, //admin and /x/../admin; the request goes to the
	// server unchanged.
	NormalizeACL NormalizeURI = iota
	// NormalizeOff: ACLs see the path as the client wrote it (HAProxy's
	// behaviour without normalize-uri).
	NormalizeOff
	// NormalizeRewrite: ACLs see the normalised path and the server gets
	// it too (the query string is kept as sent).
	NormalizeRewrite
)

// needsNormalize reports whether p may change under normalizePath: it holds
// a '%', or a '/' followed by '/' or '.'. A plain path costs one scan.
func needsNormalize(p []byte) bool {
	for i, c := range p {
		if c == '%' {
			return true
		}
		if c == '/' && i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
			return true
		}
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

// normalizePath returns p normalised: %XX escapes of unreserved characters
// decoded (the others upper-cased), empty segments (//) merged, "." and
// ".." segments resolved (never above the root). It returns p itself when
// nothing changes, else a slice of *buf, which it grows when needed (the
// result is never longer than p).
func normalizePath(buf *[]byte, p []byte) []byte {
	if len(p) == 0 || p[0] != '/' || !needsNormalize(p) {
		return p
	}
	if cap(*buf) < len(p) {
		*buf = make([]byte, 0, max(len(p), 256))
	}
	dec := (*buf)[:0]
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) {
			h, ok1 := unhex(p[i+1])
			l, ok2 := unhex(p[i+2])
			if ok1 && ok2 {
				v := h<<4 | l
				if unreserved(v) {
					dec = append(dec, v)
				} else {
					dec = append(dec, '%', upperHex[h], upperHex[l])
				}
				i += 2
				continue
			}
		}
		dec = append(dec, c)
	}
	// Resolve segments in place: the output never overtakes the input.
	n := len(dec)
	out := dec[:1] // "/"
	r := 1
	for {
		e := r
		for e < n && dec[e] != '/' {
			e++
		}
		seg := dec[r:e]
		end := e >= n
		switch {
		case len(seg) == 0 || len(seg) == 1 && seg[0] == '.':
			// merged slash or "." segment: nothing to add
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if len(out) > 1 {
				out = out[:bytes.LastIndexByte(out[:len(out)-1], '/')+1]
			}
		default:
			out = append(out, seg...)
			if !end {
				out = append(out, '/')
			}
		}
		if end {
			break
		}
		r = e + 1
	}
	*buf = dec[:0]
	if bytes.Equal(out, p) {
		return p
	}
	return out
}
