package proxy

import (
	"crypto/tls"
	"time"

	"github.com/lbd-ha/lbd/certs"
)

// Config is what an Engine serves. The proxy applies no defaults: every
// field means what its comment says, the zero value included, so a caller
// that reads a configuration file (lbd's daemon maps lbd.yaml, whose loader
// resolves HAProxy's defaults section) fills every field it wants set. New
// and Reload reject what cannot be compiled (unknown backend names, bad
// bind addresses or ACLs, missing timeouts) but do not repeat the checks of
// a configuration loader (duplicate names, ranges, modes).
type Config struct {
	// Maxconn is the process-wide limit of concurrent client connections;
	// beyond it new connections wait in the kernel backlog. Zero: no limit.
	Maxconn   int
	Frontends []Frontend
	// Backends are the server pools frontends route to, by name. Names must
	// be unique (a configuration loader checks it).
	Backends []Backend
	// Tables are the stick tables rules track keys in (stick.go). A table
	// whose definition is unchanged keeps its entries across a Reload.
	Tables []StickTable
}

// Mode is the protocol a frontend or backend speaks.
type Mode uint8

// Modes. A frontend routes only to backends of its own mode.
const (
	// ModeHTTP parses HTTP/1.x requests and responses.
	ModeHTTP Mode = iota
	// ModeTCP forwards bytes both ways.
	ModeTCP
)

// String returns "http" or "tcp".
func (m Mode) String() string {
	if m == ModeTCP {
		return "tcp"
	}
	return "http"
}

// Frontend accepts client connections and picks a backend for each
// request (mode http) or connection (mode tcp).
type Frontend struct {
	// Name identifies the frontend in status, logs and errors.
	Name string
	Mode Mode
	// Binds are the listening addresses: "*:80", ":80", "0.0.0.0:80",
	// "10.0.0.1:80", "[::]:80". At least one. IP_FREEBIND is set.
	Binds []string
	// TLS maps bind addresses, written exactly as in Binds, to the TLS
	// configuration that terminates TLS on them (package certs builds one:
	// certs.ServerOptions.Config); binds not in it are plain TCP. Only mode
	// http. A config whose NextProtos lists "h2" hands connections that
	// negotiate it to the HTTP/2 loop. nil: no TLS bind.
	TLS map[string]*tls.Config
	// Redirects are HAProxy's `redirect scheme` rules, evaluated in order
	// for every request before use_backend rules; the first whose condition
	// holds answers the redirect. Mode http only.
	Redirects []Redirect
	// H2C makes the plain binds speak cleartext HTTP/2 with prior
	// knowledge (HAProxy's `bind ... proto h2`) instead of HTTP/1.1; TLS
	// binds choose HTTP/2 by ALPN. Mode http only.
	H2C bool
	// ACLs are named tests used by UseBackends conditions; entries with the
	// same name are OR-ed. Mode tcp allows only the src criterion.
	ACLs []ACL
	// UseBackends are tried in order; the first whose condition holds wins.
	UseBackends []UseBackend
	// DefaultBackend serves what no rule matched; empty: answer 503 (mode
	// http) or close (mode tcp).
	DefaultBackend string
	// Maxconn limits this frontend's concurrent connections; zero: only
	// Config.Maxconn applies.
	Maxconn int

	// HTTPRequestTimeout bounds the arrival of a whole request head, from
	// its first byte (from accept for a new connection): 408. Required
	// (non-zero) in mode http.
	HTTPRequestTimeout time.Duration
	// KeepAliveTimeout is the idle wait for the next request on a kept-alive
	// connection (closed silently). Required in mode http.
	KeepAliveTimeout time.Duration
	// ClientTimeout is the client inactivity limit while reading a body or
	// writing a response. Required.
	ClientTimeout time.Duration
	// TunnelTimeout, when non-zero, is the inactivity limit of tunnels
	// (mode tcp sessions, WebSocket after a 101) through this frontend to
	// backends whose TunnelFixed is false. Zero: the backend's.
	TunnelTimeout time.Duration

	// HTTPClose closes the client and server connections after each
	// response; HTTPServerClose only the server connection. Neither: keep
	// both alive, with a pool of server connections.
	HTTPClose, HTTPServerClose bool
	// ForwardFor adds the client address to requests; nil: off. A backend's
	// ForwardFor replaces the frontend's.
	ForwardFor *ForwardFor
	// Log sends one record per request or session to Options.AccessLog.
	Log bool
	// DontLogNull skips the record of a connection that sent nothing.
	DontLogNull bool
	// ErrorFiles replace built-in error responses; nil: the built-in pages.
	ErrorFiles []ErrorFile
	// Stats serves the statistics page on a URI prefix; nil: off.
	Stats *Stats
	// AcceptProxy expects a PROXY protocol header on every bind
	// (proxyproto.go); nil: none.
	AcceptProxy *AcceptProxy

	// HTTPRequestRules run in order on each request before routing;
	// HTTPResponseRules on each response head from a server (rules.go).
	// TCPConnectionRules run on each accepted connection; TCPContentRules
	// (mode tcp only) before a session picks its backend.
	HTTPRequestRules   []HTTPRule
	HTTPResponseRules  []HTTPRule
	TCPConnectionRules []TCPRule
	TCPContentRules    []TCPRule
	// TarpitTimeout is how long a tarpit rule holds a request before its
	// answer. Required when a tarpit rule exists.
	TarpitTimeout time.Duration
	// NormalizeURI: which path ACLs see and servers get (normalize.go);
	// the zero value normalises for ACLs only.
	NormalizeURI NormalizeURI
}

// ACL is one named test: Criterion is path, path_beg, path_end, path_reg,
// path_dir, path_sub, hdr(NAME), hdr_beg(NAME), hdr_end(NAME),
// hdr_sub(NAME), hdr_reg(NAME), method or src; Values are OR-ed (src takes
// CIDRs or addresses).
type ACL struct {
	Name       string
	Criterion  string
	IgnoreCase bool
	Values     []string
}

// UseBackend routes to Backend when the condition holds: If, or the
// negation of Unless (at most one of them; neither: always). Conditions are
// HAProxy's: ACL names AND-ed by spaces, "||" or "or" for OR, "!" negates.
type UseBackend struct {
	Backend string
	If      string
	Unless  string
}

// Redirect is `redirect scheme SCHEME [code CODE] [if|unless COND]`: the
// answer is CODE with "Location: SCHEME://HOST/URI" (the request's Host
// header and target). A request without a Host header is answered 400.
// Compiled as an http-request redirect rule with Scheme (redirect.go).
type Redirect struct {
	// Scheme is the new scheme, e.g. "https". Required.
	Scheme string
	// Code is 301, 302, 303, 307 or 308; zero means 302 (HAProxy's).
	Code int
	// If and Unless are conditions as in UseBackend; neither: always.
	If, Unless string
}

// ForwardFor is HAProxy's `option forwardfor`.
type ForwardFor struct {
	// Header is the header name, e.g. X-Forwarded-For. Required.
	Header string
	// Except lists client networks (CIDR or address) that get no header.
	Except []string
	// IfNone adds the header only when the request has none.
	IfNone bool
}

// ErrorFile replaces the response for one status (400, 403, 408, 431,
// 500, 502, 503, 504): a file starting with "HTTP/" is sent as is, any
// other content is an HTML body wrapped in the standard headers.
type ErrorFile struct {
	Code int
	File string
}

// Stats is a frontend's statistics page. The proxy answers requests whose
// URI starts with URI: 401 without valid credentials, else
// Options.StatsHandler renders the page.
type Stats struct {
	// URI is the prefix matched. Required.
	URI string
	// Realm is the Basic-auth realm.
	Realm string
	// Auth lists "user:password" pairs; empty: no authentication.
	Auth []string
}

// Backend is a pool of servers and how requests reach them.
type Backend struct {
	Name    string
	Mode    Mode
	Balance Balance
	Servers []Server
	// Cookie enables cookie persistence (mode http); nil: none.
	Cookie *Cookie
	// Retries is the number of extra connection attempts after a failure.
	Retries int
	// Redispatch lets a retry go to another server, and moves a client
	// whose cookie server is unusable.
	Redispatch bool

	// ConnectTimeout bounds a TCP connect to a server; the pause before
	// retrying the same server is min(ConnectTimeout, 1s). Required.
	ConnectTimeout time.Duration
	// ServerTimeout is the server inactivity limit. Required.
	ServerTimeout time.Duration
	// QueueTimeout bounds the wait in a server or backend queue; zero: no
	// limit.
	QueueTimeout time.Duration
	// TunnelTimeout is the inactivity limit of tunnels (mode tcp sessions,
	// WebSocket after a 101) through this backend, unless the frontend sets
	// its own and TunnelFixed is false. Zero: max(the frontend's
	// ClientTimeout, ServerTimeout).
	TunnelTimeout time.Duration
	// TunnelFixed makes TunnelTimeout win over a frontend's TunnelTimeout
	// (lbd.yaml: the backend section sets timeouts.tunnel itself).
	TunnelFixed bool

	// HTTPClose and HTTPServerClose: as the Frontend fields; either side
	// setting one applies it.
	HTTPClose, HTTPServerClose bool
	// ForwardFor replaces the frontend's when non-nil.
	ForwardFor *ForwardFor
}

// Server is one server of a backend.
type Server struct {
	Name string
	// Address is HOST:PORT (IPv6 as [addr]:port).
	Address string
	// Cookie is the persistence cookie value; empty: no persistence here.
	Cookie string
	// Weight is 0..256; zero takes no load-balanced traffic (persistent
	// clients still reach the server).
	Weight int
	// Backup servers get traffic only when no active server is usable.
	Backup bool
	// Disabled starts a new server in maintenance (no traffic) until
	// SetServerState says otherwise.
	Disabled bool
	// Maxconn limits concurrent requests; beyond it they queue. Zero: no
	// limit.
	Maxconn int
	// Maxqueue limits the server queue; zero: no limit.
	Maxqueue int
	// SendProxy sends a PROXY protocol header (SendProxyV1 or SendProxyV2)
	// on each connection to the server; zero: none. Such connections are
	// not pooled across clients (proxyproto.go).
	SendProxy int
	// TLS makes connections to the server speak TLS (HAProxy's `server
	// ... ssl`); nil: plain TCP (server_tls.go).
	TLS *ServerTLS
}

// ServerTLS is how the proxy speaks TLS to one server.
type ServerTLS struct {
	// Options are the verification, roots and client certificate; the
	// proxy builds the crypto/tls configuration from them, with ALPN
	// http/1.1 and a per-server session cache (resumption). A reload that
	// changes them (or SNI) drops the server's idle connections.
	// Options.ServerName is ignored: SNI says what is sent.
	Options certs.ClientOptions
	// SNI chooses the server name sent (and verified).
	SNI SNI
}

// SNI is HAProxy's `sni EXPR` in the forms lbd supports.
type SNI struct {
	// From is where the name comes from.
	From SNISource
	// Name is the fixed name of SNIFixed.
	Name string
}

// SNISource is the origin of the SNI sent to a server.
type SNISource uint8

// SNI sources. With a per-request source the idle connections of the
// server are kept per name: a connection made for one name never carries
// a request for another.
const (
	// SNINone sends no SNI (HAProxy's default without sni).
	SNINone SNISource = iota
	// SNIFixed sends SNI.Name (sni str(NAME)).
	SNIFixed
	// SNIHost sends the request's Host header without its port (sni
	// req.hdr(host)); none when the request has no Host. Mode http only.
	SNIHost
	// SNIFrontend sends the SNI the client sent to a TLS bind (sni
	// ssl_fc_sni); none on plain binds. Mode http only.
	SNIFrontend
)

// Balance is a backend's load-balancing algorithm.
type Balance uint8

// Balancing algorithms.
const (
	// BalanceRoundRobin is smooth weighted round-robin.
	BalanceRoundRobin Balance = iota
	// BalanceLeastConn picks the fewest connections relative to weight.
	BalanceLeastConn
	// BalanceSource hashes the client address onto the weighted servers.
	BalanceSource
	// BalanceFirst fills servers in order up to their Maxconn.
	BalanceFirst
)

// String returns HAProxy's name: roundrobin, leastconn, source or first.
func (b Balance) String() string {
	switch b {
	case BalanceLeastConn:
		return "leastconn"
	case BalanceSource:
		return "source"
	case BalanceFirst:
		return "first"
	}
	return "roundrobin"
}

// CookieMode is how a persistence cookie is set.
type CookieMode uint8

// Cookie modes (HAProxy `cookie NAME insert|rewrite|prefix`).
const (
	// CookieInsert adds a Set-Cookie naming the server.
	CookieInsert CookieMode = iota
	// CookieRewrite replaces the value of the server's own cookie.
	CookieRewrite
	// CookiePrefix prefixes the server's own cookie value with the server's.
	CookiePrefix
)

// Cookie is cookie persistence: a client holding the cookie of a usable
// server goes back to it.
type Cookie struct {
	// Name of the cookie. Required.
	Name string
	Mode CookieMode
	// Indirect: no Set-Cookie when the client already has the right one.
	Indirect bool
	// NoCache adds Cache-Control: private to responses that insert one.
	NoCache  bool
	HTTPOnly bool
	Secure   bool
	Domain   string
	// Preserve keeps a server's own Set-Cookie for Name (insert mode).
	Preserve bool
}
