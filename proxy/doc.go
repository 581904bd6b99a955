// Package proxy is lbd's HTTP and TCP load-balancing engine, modelled on
// HAProxy's behaviour (see docs/proxy.md for the directives it honours).
//
// # Runtime API
//
// The daemon builds an Engine from a loaded *config.Config and drives it:
//
//	e, err := proxy.New(cfg, proxy.Options{Logger: log, AccessLog: logq.Push})
//	err = e.Start(ctx)            // bind every listener (ctx bounds binding), serve in background
//	err = e.Reload(newCfg)        // validate, then swap atomically
//	err = e.SetServerState("app", "s1", proxy.ServerState{Up: false})
//	err = e.SetServerWeight("app", "s1", 50)
//	fs, bs := e.Frontends(), e.Backends()   // control.FrontendStatus / BackendStatus
//	ok := e.BackendUsable("app"); ok = e.FrontendServing("www")
//	err = e.Shutdown(ctx)         // soft stop (softstop.go); ctx is the hard-stop bound
//
// Start returns once every listener is bound (an error closes the ones
// opened); serving goes on in background goroutines until Shutdown.
// Servers start Up; the health checker corrects that with SetServerState.
// Admin states: AdminReady, AdminDrain (persistent cookie traffic only),
// AdminMaint (no traffic). Unknown backend or server names return an error
// listing the valid ones. BoundAddrs returns a frontend's bound addresses
// (handy with port 0 in tests).
//
// Options.StatsHandler renders the stats page for frontends with `stats`
// enabled; the proxy matches the stats URI and checks `stats auth` first.
//
// Options.AccessLog is called synchronously once per HTTP request or TCP
// session with a *logs.Record that is reused afterwards: copy the struct if
// it must outlive the call.
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
