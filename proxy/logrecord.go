package proxy

import (
	"net/netip"
	"time"
)

// LogRecord is everything one proxied HTTP request or TCP session contributes to
// its access-log line (HAProxy's httplog/tcplog fields). The proxy fills it
// and hands it to Options.AccessLog; lbd's internal/logs formats it.
type LogRecord struct {
	Client     netip.AddrPort // %ci:%cp
	AcceptedAt time.Time      // %tr: accept (or, on keep-alive, end of previous request)
	Frontend   string         // %ft
	Backend    string         // %b ("<NOSRV>" handling is the formatter's)
	Server     string         // %s, empty when no server was reached: <NOSRV>
	// Timers, -1 when the phase never happened (HAProxy prints -1).
	TR         time.Duration // time to receive the full request headers
	Tw         time.Duration // time waiting in queues
	Tc         time.Duration // time to connect to the server
	Tr         time.Duration // server response time (headers)
	Ta         time.Duration // total active time (accept to last byte)
	Status     int           // %ST, -1 (tcp) or 0 when none
	BytesRead  int64         // %B bytes sent to the client
	ReqCookie  string        // %CC captured request cookie ("-")
	RespCookie string        // %CS captured response cookie ("-")
	// Termination is the 4-char state, e.g. "----", "cR--", "SC--", "--NI".
	Termination  string
	ActConn      int64 // %ac process concurrent connections
	FeConn       int64 // %fc frontend
	BeConn       int64 // %bc backend
	SrvConn      int64 // %sc server
	Retries      int   // %rc
	Redispatch   bool  // prints "+" before retries
	SrvQueue     int64 // %sq
	BackendQueue int64 // %bq
	// RequestLine is the first line of the request, e.g. "GET / HTTP/1.1".
	RequestLine string
	// TCP is set for tcplog records (no status, request line, cookies).
	TCP bool
	// TLS is set when the client connection is TLS (httplog appends "~"
	// to the frontend name, as HAProxy does).
	TLS bool
}
