package proxy

import (
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// tunnel forwards a 101 response and then bytes both ways (WebSocket).
func (cc *clientConn) tunnel(x *exchange, sr *bufReader, tStart time.Time) bool {
	fe, be := cc.fe, x.be
	if cc.h2 != nil {
		// Not reached: HTTP/2 requests never ask for an upgrade.
		x.sconn.Close()
		return false
	}
	cc.out.hold()
	cc.out.b = h1.AppendStatusLine(cc.out.b[:0], cc.resp.Minor, cc.resp.Status, cc.resp.Reason)
	for _, h := range cc.resp.Headers {
		if h.Kind == h1.KindKeepAlive || h.Kind == h1.KindProxyConnection {
			continue
		}
		cc.out.b = h1.AppendHeader(cc.out.b, h.Name, h.Value)
	}
	cc.out.b = append(cc.out.b, crlf...)
	if sr.buffered() > 0 {
		cc.out.b = append(cc.out.b, (*sr.buf)[sr.r:sr.w]...)
		sr.r = sr.w
	}
	err := cc.out.flush()
	if err == nil && cc.in.buffered() > 0 {
		x.sconn.SetWriteDeadline(time.Now().Add(be.server))
		_, err = x.sconn.Write((*cc.in.buf)[cc.in.r:cc.in.w])
		cc.in.r = cc.in.w
	}
	cc.out.releaseBuf()
	cc.in.releaseAll()
	sr.releaseAll()
	cc.rec.Status = 101
	fe.st.status(101)
	be.st.status(101)
	if err != nil {
		x.sconn.Close()
		cc.term[0], cc.term[1] = 'C', 'D'
		cc.logExchange(x, tStart)
		return false
	}
	idle := tunnelIdle(fe, be)
	cc.c.SetDeadline(time.Time{})
	x.sconn.SetDeadline(time.Time{})
	var up, down int64
	var term string
	if cc.tls != nil {
		up, down, term = tunnelTLS(cc.tls.conn, x.sconn, idle)
	} else if x.srv.tls != nil {
		// A TLS server: copy through its tls.Conn (no splice).
		up, down, term = copyBoth(cc.c, cc.c, x.sconn, idle, copyIdle)
	} else {
		up, down, term = splice2(cc.c, x.sconn, idle)
	}
	x.sconn = nil
	cc.rec.BytesRead = down
	fe.st.bytesOut.Add(uint64(down))
	fe.st.bytesIn.Add(uint64(up))
	be.st.bytesOut.Add(uint64(down))
	be.st.bytesIn.Add(uint64(up))
	cc.term[0], cc.term[1] = term[0], term[1]
	cc.logExchange(x, tStart)
	return false
}
