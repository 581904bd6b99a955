package proxy

// FrontendStatus is a snapshot of one frontend (Engine.Frontends).
type FrontendStatus struct {
	Name       string
	Mode       Mode
	Binds      []string // as bound: "0.0.0.0:80"
	Serving    bool     // every listener is open
	Sessions   int64    // current connections
	MaxSession int64    // highest Sessions seen
	Limit      int64    // Maxconn, else Config.Maxconn (0: none)
	Total      uint64   // connections accepted
	Requests   uint64
	ReqRate    float64 // requests/s since the previous snapshot
	BytesIn    uint64
	BytesOut   uint64
	DeniedReq  uint64
	// DeniedConn counts connections refused by tcp-request connection
	// rules (HAProxy's dcon).
	DeniedConn uint64
	ErrorsReq  uint64
	// ProxyErrors counts connections closed for a missing or invalid
	// PROXY protocol header (also in ErrorsReq).
	ProxyErrors uint64
	// Responses by class: "1xx".."5xx", "other".
	Responses map[string]uint64
	// TLSHandshakes counts the completed TLS handshakes on the frontend's
	// TLS binds; TLSFailures the failed ones by certs.Reason
	// ("no_shared_cipher", "unknown_sni", "bad_client_cert", "timeout",
	// "protocol_version", "no_certificate", "other"); nil when the frontend never had one.
	TLSHandshakes uint64
	TLSFailures   map[string]uint64
	// HTTP/2 streams (zero on HTTP/1.1 frontends): opened in total, open
	// now, refused over the concurrency limit, reset by clients, and
	// connections ended with GOAWAY ENHANCE_YOUR_CALM (frame floods,
	// rapid reset).
	H2Streams, H2Refused, H2Resets, H2Calm uint64
	H2StreamsCur                           int64
}

// BackendStatus is a snapshot of one backend and its servers.
type BackendStatus struct {
	Name       string
	Mode       Mode
	Balance    Balance
	Usable     bool // BackendUsable
	Sessions   int64
	MaxSession int64
	Total      uint64
	Queue      int64
	MaxQueue   int64
	BytesIn    uint64
	BytesOut   uint64
	ErrorsConn uint64
	ErrorsResp uint64
	Retries    uint64
	Redispatch uint64
	Responses  map[string]uint64
	Servers    []ServerStatus
}

// ServerStatus is a snapshot of one server. State is what the proxy acts
// on, from the last SetServerState: UP, DOWN, DRAIN or MAINT (checks.State*
// names; admin states win over health). Transitions and downtime are the
// health checker's to record (checks.Machine).
type ServerStatus struct {
	Name       string
	Address    string
	State      string
	Weight     int // runtime weight
	Backup     bool
	Sessions   int64
	MaxSession int64
	Limit      int64 // Maxconn, 0: none
	Total      uint64
	Queue      int64
	MaxQueue   int64
	BytesIn    uint64
	BytesOut   uint64
	ErrorsConn uint64
	ErrorsResp uint64
	Retries    uint64
	Redispatch uint64
	Responses  map[string]uint64
	// TLS is set for a server spoken to over TLS; TLSHandshakes counts
	// the handshakes it completed (new connections, resumed or not), and
	// TLSFailures the failed ones (certificate not verified, timeout, ...;
	// also in ErrorsConn).
	TLS           bool
	TLSHandshakes uint64
	TLSFailures   uint64
	// TLSFailureReasons splits TLSFailures by certs.ServerReasons
	// (bad_server_cert, timeout, refused, other); nil without TLS.
	TLSFailureReasons map[string]uint64
}
