package proxy

import "github.com/lbd-ha/lbd/proxy/h1"

// hdrXFP is the header lbd sets with forwardfor: the client connection's
// scheme, replacing any the client sent.
const hdrXFP = "x-forwarded-proto"

// proxyWrites reports the headers that the proxy drops when it
// re-serialises a message, and writes itself as the message needs them:
// the framing (Content-Length, Transfer-Encoding) and the connection's
// (Connection, Keep-Alive, Proxy-Connection).
func proxyWrites(k h1.Kind) bool {
	switch k {
	case h1.KindContentLength, h1.KindTransferEncoding, h1.KindConnection, h1.KindKeepAlive, h1.KindProxyConnection:
		return true
	}
	return false
}

// respLength reports whether the response head the proxy writes carries
// Content-Length (resp.ContentLength), given how the body is delimited.
func respLength(resp *h1.Response, body h1.BodyKind) bool {
	return body == h1.BodyLength || body == h1.BodyNone && resp.ContentLength >= 0 && resp.Status != 204 && resp.Status >= 200
}

// appendServerHead re-serialises the request for the server.
func (cc *clientConn) appendServerHead(dst []byte, x *exchange, ka bool) []byte {
	req := &cc.req
	be := x.be
	dst = h1.AppendRequestLine(dst, req)
	var ck *cookieCfg
	if x.ckSent {
		ck = be.cookie
	}
	hasFwd := false
	fwd := be.fwd
	if fwd == nil {
		fwd = cc.fe.fwd
	}
	for i := range req.Headers {
		h := &req.Headers[i]
		if proxyWrites(h.Kind) {
			continue
		}
		switch h.Kind {
		case h1.KindExpect:
			if req.Expect100 {
				continue // answered by the proxy
			}
		case h1.KindUpgrade:
			if !req.Upgrade {
				continue
			}
		case h1.KindCookie:
			dst = appendCookieHeader(dst, h, ck)
			continue
		}
		if fwd != nil {
			if !hasFwd && len(h.Name) == len(fwd.header) && h1.EqualFold(h.Name, string(fwd.header)) {
				hasFwd = true
			}
			if len(h.Name) == len(hdrXFP) && h1.EqualFold(h.Name, hdrXFP) {
				continue // replaced by lbd's own below
			}
		}
		dst = h1.AppendHeader(dst, h.Name, h.Value)
	}
	switch x.bodyKind {
	case h1.BodyLength:
		dst = h1.AppendContentLength(dst, req.ContentLength)
	case h1.BodyChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if fwd != nil && !(fwd.ifNone && hasFwd) && !prefixesContain(fwd.except, cc.src.Addr()) {
		dst = append(dst, fwd.header...)
		dst = append(dst, ':', ' ')
		dst = cc.src.Addr().AppendTo(dst)
		dst = append(dst, crlf...)
	}
	if fwd != nil {
		if cc.tls != nil {
			dst = append(dst, "X-Forwarded-Proto: https\r\n"...)
		} else {
			dst = append(dst, "X-Forwarded-Proto: http\r\n"...)
		}
	}
	switch {
	case req.Upgrade:
		dst = append(dst, "Connection: upgrade\r\n"...)
	case !ka && req.Minor == 1:
		dst = append(dst, "Connection: close\r\n"...)
	case ka && req.Minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, crlf...)
}

// appendClientHead re-serialises the response for the client, applying
// cookie persistence.
func (cc *clientConn) appendClientHead(dst []byte, x *exchange, ka bool, body h1.BodyKind) []byte {
	if cc.fe.respRules != nil {
		cc.httpResponseRules()
	}
	resp := &cc.resp
	be := x.be
	ck := be.cookie
	dst = h1.AppendStatusLine(dst, resp.Minor, resp.Status, resp.Reason)
	serverKept := false
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if proxyWrites(h.Kind) {
			continue
		}
		switch h.Kind {
		case h1.KindSetCookie:
			if ck == nil {
				break
			}
			name, val, attrs := setCookieName(h.Value)
			if string(name) != ck.name {
				break
			}
			switch ck.mode {
			case CookieInsert:
				if ck.preserve {
					serverKept = true
					cc.term[3] = 'P'
					break
				}
				cc.term[3] = 'D'
				continue
			case CookieRewrite:
				dst = append(dst, "Set-Cookie: "...)
				dst = append(dst, name...)
				dst = append(dst, '=')
				dst = append(dst, x.srv.cookie...)
				dst = append(dst, attrs...)
				dst = append(dst, crlf...)
				cc.term[3] = 'R'
				continue
			case CookiePrefix:
				dst = append(dst, "Set-Cookie: "...)
				dst = append(dst, name...)
				dst = append(dst, '=')
				dst = append(dst, x.srv.cookie...)
				dst = append(dst, '~')
				dst = append(dst, val...)
				dst = append(dst, attrs...)
				dst = append(dst, crlf...)
				cc.term[3] = 'R'
				continue
			}
		}
		dst = h1.AppendHeader(dst, h.Name, h.Value)
	}
	switch {
	case respLength(resp, body):
		dst = h1.AppendContentLength(dst, resp.ContentLength)
	case body == h1.BodyChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if ck != nil && ck.mode == CookieInsert && !serverKept && (!ck.indirect || !x.direct) {
		if x.srv.cookie != "" {
			dst = appendInsertedCookie(dst, ck, x.srv.cookie)
			cc.term[3] = 'I'
			if ck.nocache && !uncacheable(resp) {
				dst = append(dst, "Cache-Control: private\r\n"...)
			}
		} else if x.ckSent {
			dst = appendInsertedCookie(dst, ck, "")
			cc.term[3] = 'D'
		}
	}
	if !ka {
		dst = append(dst, "Connection: close\r\n"...)
	} else if cc.req.Minor == 0 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, crlf...)
}
