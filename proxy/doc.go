// Package proxy is lbd's HTTP and TCP load-balancing engine, modelled on
// HAProxy's behaviour (see docs/proxy.md for the directives it honours).
//
// # Runtime API
//
// An Engine serves a Config: frontends, backends and servers with every
// setting spelled out (the proxy applies no defaults; each field's comment
// says what its zero value means). lbd's daemon maps lbd.yaml onto it
// (internal/daemon/proxyconfig.go); other programs build one directly:
//
//	e, err := proxy.New(&cfg, proxy.Options{Logger: log, AccessLog: push})
//	err = e.Start(ctx)            // bind every listener (ctx bounds binding), serve in background
//	err = e.Reload(&newCfg)       // compile, then swap atomically
//	err = e.SetServerState("app", "s1", proxy.ServerState{Up: false, Admin: checks.Drain})
//	err = e.SetServerWeight("app", "s1", 50)
//	fs, bs := e.Frontends(), e.Backends()   // FrontendStatus / BackendStatus snapshots
//	ok := e.BackendUsable("app"); ok = e.FrontendServing("www")
//	err = e.Shutdown(ctx)         // soft stop (softstop.go); ctx is the hard-stop bound
//
// Start returns once every listener is bound (an error closes the ones
// opened); serving goes on in background goroutines until Shutdown.
// Servers start Up (Disabled ones in maintenance); the health checker
// corrects that with SetServerState. The admin state is checks.Admin:
// checks.Ready, checks.Drain (persistent cookie traffic only), checks.Maint
// (no traffic). The proxy keeps the state it acts on; transitions and
// downtime are recorded by the health checker (checks.Machine). Unknown
// backend or server names return a *NameError listing the valid ones.
// BoundAddrs returns a frontend's bound addresses (handy with port 0 in
// tests).
//
// Options.StatsHandler renders the stats page for frontends with Stats set;
// the proxy matches the stats URI and checks the credentials first
// (CheckBasicAuth, which lbd's standalone stats page uses too).
//
// Options.AccessLog is called synchronously once per HTTP request or TCP
// session with a *LogRecord that is reused afterwards: copy the struct if
// it must outlive the call.
//
// # Files
//
// conn_h1.go is the HTTP/1.1 client connection: the request loop, idle
// parking, parsing the head, error answers, the access-log record, and the
// downstream methods. exchange.go holds the exchange: route, cookie
// persistence, the attempt loop and the response relay; acquire.go gets a
// server slot and connection (queue, connect, retries, redispatch, the
// pool, sendAwait); rewrite.go re-serialises the heads (forwardfor,
// X-Forwarded-Proto, cookie edits); tunnel.go is the HTTP/1.1 Upgrade
// (WebSocket) tunnel; tcp.go is mode tcp. conn_tls.go is a client
// connection on a TLS bind (Frontend.TLS): the handshake and its counters,
// the hand-off of ALPN "h2" connections to the HTTP/2 loop, and the
// HTTP/1.1 request loop over crypto/tls (the handling of conn_h1.go
// without raw system calls); redirect.go is `redirect scheme`. The seam
// for a second client protocol (HTTP/2) is the downstream interface in
// conn_h1.go: the exchange gets the request head
// (an h1.Request) and reaches the client only through those methods (the
// body, interim and final responses, keep-alive, error answers, logging).
// Servers are spoken to in HTTP/1.1 whatever the client protocol.
//
// HTTP/2 (docs/proxy.md, "HTTP/2"): conn_h2.go is the client connection
// (preface, frame reader, stream states, flow control, abuse limits),
// h2_write.go its single writer goroutine (framing and HPACK encoding),
// h2_stream.go one request: its clientConn (field h2) carries the
// h1.Request rebuilt from the HEADERS through the same exchange, and the
// downstream methods hand over to the stream. h2_limits.go lists the
// bounds. (*Engine).serveH2 takes any net.Conn whose next bytes are the
// client preface, with the client's addresses (the PROXY header's, if
// any): a cleartext one (Frontend.H2C, serveH2c) or a TLS one whose ALPN
// chose "h2" (h2Server in conn_tls.go, with the TLS session for ssl_fc*).
// A soft stop reaches it through softStop (GOAWAY, softstop.go).
//
// # Design
//
// One goroutine per client connection; no net/http on the forwarding path.
// Request and response heads are parsed in place by package proxy/h1 and
// re-serialised, so the server sees exactly what the parser acted on.
// Buffers (16 KiB, HAProxy's bufsize) come from a pool and are released
// while a keep-alive client connection is idle: the connection waits for
// readability through syscall.RawConn without holding a buffer. Backend
// connections are pooled per server (idle timeout 2 s, below common
// backend keep-alive timeouts). Mode tcp and WebSocket tunnels copy with
// (*net.TCPConn).ReadFrom so Linux splice(2) is used.
package proxy
