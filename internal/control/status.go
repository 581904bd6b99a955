package control

import (
	"time"

	"github.com/lbd-ha/lbd/bgp"
)

// Status is the daemon's whole state as `lbctl status --json` prints it and
// the stats page and /metrics render it. Field names are a stable API: add
// fields, never rename or remove them.
type Status struct {
	Version    string    `json:"version"`
	PID        int       `json:"pid"`
	Node       string    `json:"node"`
	StartedAt  time.Time `json:"started_at"`
	UptimeSec  float64   `json:"uptime_seconds"`
	ConfigFile string    `json:"config_file"`
	ConfigLoad time.Time `json:"config_loaded_at"`
	// LastReload describes the most recent reload attempt; nil if none.
	LastReload *ReloadResult    `json:"last_reload,omitempty"`
	Sysctl     []SysctlResult   `json:"sysctl"`
	VRRP       []VRRPStatus     `json:"vrrp"`
	Frontends  []FrontendStatus `json:"frontends"`
	Backends   []BackendStatus  `json:"backends"`
	// Pair is the pair link and the peer's view (docs/pair.md); nil
	// without a pair section.
	Pair *PairStatus `json:"pair,omitempty"`
	// BGP is the bgp section; nil when bgp is not configured.
	BGP *bgp.Status `json:"bgp,omitempty"`
	// Certificates lists what the TLS binds serve (empty without one).
	Certificates []CertStatus `json:"certificates,omitempty"`
}

// ReloadResult is the outcome of one reload (SIGHUP or lbctl reload).
type ReloadResult struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	Source string    `json:"source"` // "SIGHUP", "lbctl", ...
}

// UpgradeResult is the outcome of a binary upgrade: OK means the new
// process (NewPID) is serving and the old one (OldPID) drains and exits;
// otherwise Error says why and the old process keeps serving.
type UpgradeResult struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	Source string    `json:"source"`
	OldPID int       `json:"old_pid"`
	NewPID int       `json:"new_pid,omitempty"`
}

// SysctlResult is one sysctl key as lbd found and left it.
type SysctlResult struct {
	Key     string `json:"key"`
	Old     string `json:"old"`
	New     string `json:"new"`
	Changed bool   `json:"changed"`
	// Warning is set when the key could not be read or written.
	Warning string `json:"warning,omitempty"`
}

// VRRPStatus is one VRRP instance on this node.
type VRRPStatus struct {
	Name              string        `json:"name"`
	Interface         string        `json:"interface"`
	VRID              int           `json:"vrid"`
	Version           int           `json:"version"`
	State             string        `json:"state"` // INIT, BACKUP, MASTER, FAULT
	BasePriority      int           `json:"base_priority"`
	EffectivePriority int           `json:"effective_priority"`
	MasterIP          string        `json:"master_ip,omitempty"`
	AdvertInterval    time.Duration `json:"advert_interval_ns"`
	VIPs              []string      `json:"vips"`
	VIPsHeld          bool          `json:"vips_held"`
	HandedOver        bool          `json:"handed_over"`
	LastTransition    time.Time     `json:"last_transition"`
	LastReason        string        `json:"last_reason"`
	Transitions       uint64        `json:"transitions"`
	AdvertsRx         uint64        `json:"adverts_rx"`
	AdvertsTx         uint64        `json:"adverts_tx"`
	// Drops counts dropped packets by reason ("ttl", "vrid", "checksum", ...).
	Drops map[string]uint64 `json:"drops"`
}

// FrontendStatus is one frontend (or the frontend half of a listen section).
type FrontendStatus struct {
	Name       string   `json:"name"`
	Mode       string   `json:"mode"`
	Binds      []string `json:"binds"`
	Serving    bool     `json:"serving"`
	Sessions   int64    `json:"sessions"`     // current connections
	MaxSession int64    `json:"max_sessions"` // highest seen
	Limit      int64    `json:"limit"`        // maxconn
	Total      uint64   `json:"total"`        // connections accepted
	Requests   uint64   `json:"requests"`
	ReqRate    float64  `json:"req_rate"` // requests/s over the last seconds
	BytesIn    uint64   `json:"bytes_in"`
	BytesOut   uint64   `json:"bytes_out"`
	DeniedReq  uint64   `json:"denied_req"`
	ErrorsReq  uint64   `json:"errors_req"`
	// ProxyErrors: connections closed on an accept_proxy bind for a
	// missing or invalid PROXY protocol header (also in ErrorsReq).
	ProxyErrors uint64 `json:"proxy_errors"`
	// Responses by class: "1xx".."5xx", "other".
	Responses map[string]uint64 `json:"responses"`
	// TLSHandshakes and TLSFailures (by reason: no_shared_cipher,
	// unknown_sni, bad_client_cert, timeout, protocol_version,
	// no_certificate, other) are
	// set for frontends with a TLS bind.
	TLSHandshakes uint64            `json:"tls_handshakes,omitempty"`
	TLSFailures   map[string]uint64 `json:"tls_failures,omitempty"`
	// HTTP/2 streams (frontends with proto h2, or TLS with ALPN h2):
	// opened, open now, refused over the concurrency limit, reset by
	// clients; connections ended for floods (ENHANCE_YOUR_CALM).
	H2Streams    uint64 `json:"h2_streams,omitempty"`
	H2StreamsCur int64  `json:"h2_streams_cur,omitempty"`
	H2Refused    uint64 `json:"h2_refused,omitempty"`
	H2Resets     uint64 `json:"h2_resets,omitempty"`
	H2Calm       uint64 `json:"h2_calm,omitempty"`
}

// CertStatus is one certificate a TLS bind serves (lbctl cert list).
type CertStatus struct {
	Frontend  string    `json:"frontend"`
	Bind      string    `json:"bind"`
	File      string    `json:"file"`
	Names     []string  `json:"names"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	DaysLeft  int       `json:"days_left"` // negative once expired
	KeyType   string    `json:"key_type"`
	Default   bool      `json:"default"`
	// ACME is the tls.acme state of a certificate file that tls.acme
	// manages ("valid", "obtaining", "renewing", "failing"); "" for others.
	ACME string `json:"acme,omitempty"`
	// ACMEFailingSince and ACMELastError: a failing renewal (the file
	// keeps serving; retried with backoff).
	ACMEFailingSince time.Time `json:"acme_failing_since,omitzero"`
	ACMELastError    string    `json:"acme_last_error,omitempty"`
}

// CertExpiryWarnDays is how close to its expiry a certificate makes lbctl
// status warn.
const CertExpiryWarnDays = 14

// BackendStatus is one backend (or the backend half of a listen section).
type BackendStatus struct {
	Name       string            `json:"name"`
	Mode       string            `json:"mode"`
	Balance    string            `json:"balance"`
	Usable     bool              `json:"usable"` // at least one server can take traffic
	Sessions   int64             `json:"sessions"`
	MaxSession int64             `json:"max_sessions"`
	Total      uint64            `json:"total"`
	Queue      int64             `json:"queue"`
	MaxQueue   int64             `json:"max_queue"`
	BytesIn    uint64            `json:"bytes_in"`
	BytesOut   uint64            `json:"bytes_out"`
	ErrorsConn uint64            `json:"errors_conn"`
	ErrorsResp uint64            `json:"errors_resp"`
	Retries    uint64            `json:"retries"`
	Redispatch uint64            `json:"redispatches"`
	Responses  map[string]uint64 `json:"responses"`
	Servers    []ServerStatus    `json:"servers"`
}

// ServerStatus is one server. State is what operators act on: UP, DOWN,
// DRAIN or MAINT (admin states win over health).
type ServerStatus struct {
	Name       string            `json:"name"`
	Address    string            `json:"address"`
	State      string            `json:"state"` // UP, DOWN, DRAIN, MAINT
	Weight     int               `json:"weight"`
	Backup     bool              `json:"backup"`
	Sessions   int64             `json:"sessions"`
	MaxSession int64             `json:"max_sessions"`
	Limit      int64             `json:"limit"` // maxconn, 0 = none
	Total      uint64            `json:"total"`
	Queue      int64             `json:"queue"`
	MaxQueue   int64             `json:"max_queue"`
	BytesIn    uint64            `json:"bytes_in"`
	BytesOut   uint64            `json:"bytes_out"`
	ErrorsConn uint64            `json:"errors_conn"`
	ErrorsResp uint64            `json:"errors_resp"`
	Retries    uint64            `json:"retries"`
	Redispatch uint64            `json:"redispatches"`
	Responses  map[string]uint64 `json:"responses"`
	// TLS: the server is spoken to over TLS (ssl); TLSHandshakes and
	// TLSFailures count its handshakes (failures also in ErrorsConn).
	TLS           bool   `json:"tls,omitempty"`
	TLSHandshakes uint64 `json:"tls_handshakes,omitempty"`
	TLSFailures   uint64 `json:"tls_failures,omitempty"`
	// TLSFailureReasons splits TLSFailures by reason: bad_server_cert,
	// timeout, refused (an alert from the server), other.
	TLSFailureReasons map[string]uint64 `json:"tls_failure_reasons,omitempty"`
	Check             CheckStatus       `json:"check"`
	LastChange        time.Time         `json:"last_change"`
	// Downtime is the total time spent DOWN.
	DowntimeSec float64 `json:"downtime_seconds"`
	Transitions uint64  `json:"transitions"`
}

// CheckStatus is a server's health-check view.
type CheckStatus struct {
	Enabled  bool          `json:"enabled"`
	Type     string        `json:"type,omitempty"`   // tcp, http
	Result   string        `json:"result,omitempty"` // e.g. "L7OK", "L7STS", "L4CON", "L4TOUT"
	Code     int           `json:"code,omitempty"`   // HTTP status of the last check
	Reason   string        `json:"reason,omitempty"` // "Layer7 wrong status"
	Info     string        `json:"info,omitempty"`   // detail: "Connection refused", "certificate verify failed: ..."
	Duration time.Duration `json:"duration_ns"`
	Health   int           `json:"health"` // HAProxy health counter 0..rise+fall-1
	Rise     int           `json:"rise"`
	Fall     int           `json:"fall"`
	LastAt   time.Time     `json:"last_at"`
}
