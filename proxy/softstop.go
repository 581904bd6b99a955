package proxy

// Soft stop: how lbd closes client connections on purpose.
//
// A keep-alive client may send its next request at any moment; a server
// that closes an idle connection races with it, and a request that was on
// its way then meets a reset or an end of stream without a response. Go's
// http.Client and browsers send an idempotent request again; wrk, a POST,
// or most API clients report an error. So whenever lbd ends connections on
// purpose (Shutdown: stop and the old process of a binary upgrade; a
// listener removed by a reload; a reload itself, which moves keep-alive
// clients to the new configuration), it follows HAProxy's soft-stop rule
// with idle-close-on-response:
//
//   - the connection is never closed while a request may be arriving on
//     it: an HTTP connection serves its next request, answers it with
//     Connection: close and then closes (keepServing is false);
//   - an idle keep-alive connection that gets no request closes when its
//     keep-alive wait ends (timeout http_keep_alive), as it would have
//     anyway;
//   - a connection accepted just as its listener closed is served (its
//     request answered with Connection: close), not dropped;
//   - a TCP session (and a WebSocket tunnel) forwards until it ends;
//   - Shutdown's context is the hard-stop bound (global.hard_stop_after in
//     lbd): what remains when it ends is closed.

// retired is stored in a closed listener's frontend pointer, so that the
// connections it accepted close after their next response.
var retired = &frontend{name: "<retired>"}

// retire closes the listener and marks its connections for closing after
// their next response. The mark comes after the close, so that the accept
// loop, which sees the closed listener first, never serves with it.
func (l *listener) retire() {
	l.close()
	l.fe.Store(retired)
}

// keepServing reports whether a response on the frontend fe may keep the
// client connection open: not during a soft stop, and not after a reload
// changed (or removed) its listener's frontend.
func (cc *clientConn) keepServing(fe *frontend) bool {
	return !cc.e.stopping.Load() && cc.cur.Load() == fe
}
