package config

import "time"

// Config is the whole lbd.yaml. After Load, defaults are applied (see
// defaults.go): every Frontend and Backend carries its effective settings, and
// each listen section also appears once in Frontends and once in Backends
// (with FromListen set), so consumers never merge sections themselves.
type Config struct {
	Global    Global     `mapstructure:"global" yaml:"global,omitempty"`
	Sysctl    Sysctl     `mapstructure:"sysctl" yaml:"sysctl,omitempty"`
	VRRP      VRRP       `mapstructure:"vrrp" yaml:"vrrp,omitempty"`
	Defaults  Defaults   `mapstructure:"defaults" yaml:"defaults,omitempty"`
	Frontends []Frontend `mapstructure:"frontends" yaml:"frontends,omitempty"`
	Backends  []Backend  `mapstructure:"backends" yaml:"backends,omitempty"`
	Listen    []Listen   `mapstructure:"listen" yaml:"listen,omitempty"`
	// Stats is a standalone stats listener (HAProxy's `listen stats *:1936`
	// with `stats enable`). Stats can also live inside a frontend or listen.
	Stats   *StatsListener `mapstructure:"stats" yaml:"stats,omitempty"`
	Metrics *Metrics       `mapstructure:"metrics" yaml:"metrics,omitempty"`
	// Pair is the link to the other node (docs/pair.md); nil: off.
	Pair *Pair `mapstructure:"pair" yaml:"pair,omitempty"`
	// BGP announces VIPs to routers for ECMP scale-out (bgp.go); nil: off.
	BGP *BGP `mapstructure:"bgp" yaml:"bgp,omitempty"`
	// TLS holds settings shared by the TLS binds (acme.go); nil: none.
	TLS *TLS `mapstructure:"tls" yaml:"tls,omitempty"`
	// Userlists name sets of "user:password" pairs for auth rules.
	Userlists []Userlist `mapstructure:"userlists" yaml:"userlists,omitempty"`

	// File is the path the config was loaded from (not a YAML key).
	File string `mapstructure:"-" yaml:"-"`
	// Warnings are problems that do not stop the config from loading (an
	// expired certificate, a skipped cipher name); lbd check prints them.
	Warnings []Problem `mapstructure:"-" yaml:"-"`
}

// Global holds process-wide settings (HAProxy's global section).
type Global struct {
	// Maxconn is the process-wide connection limit; 0 means 4096.
	Maxconn int `mapstructure:"maxconn" yaml:"maxconn,omitempty"`
	// Threads sets GOMAXPROCS; 0 leaves Go's default (all CPUs).
	Threads int `mapstructure:"threads" yaml:"threads,omitempty"`
	// Log lists the syslog/stdout targets that `log: global` sections use.
	Log []LogTarget `mapstructure:"log" yaml:"log,omitempty"`
	// ControlSocket is the unix socket lbctl talks to; default /run/lbd/lbd.sock.
	ControlSocket string `mapstructure:"control_socket" yaml:"control_socket,omitempty"`
	// RuntimeAPI sets who may use the control socket and what HAProxy
	// runtime API text commands may do there (HAProxy's `stats socket`
	// options); nil: mode 0600, owner lbd's user, level operator.
	RuntimeAPI *RuntimeAPI `mapstructure:"runtime_api" yaml:"runtime_api,omitempty"`
	// User and Group to run as after binding (root only); empty keeps the current.
	User  string `mapstructure:"user" yaml:"user,omitempty"`
	Group string `mapstructure:"group" yaml:"group,omitempty"`
	// Chroot directory entered after binding (as HAProxy's chroot); empty: none.
	Chroot string `mapstructure:"chroot" yaml:"chroot,omitempty"`
	// SpreadChecks is the +/- percent jitter on check intervals (0..50).
	SpreadChecks int `mapstructure:"spread_checks" yaml:"spread_checks,omitempty"`
	// HardStopAfter bounds a soft stop (stop, and the old process of a
	// binary upgrade): connections still open then are closed (HAProxy's
	// hard-stop-after); 0 means 30s.
	HardStopAfter time.Duration `mapstructure:"hard_stop_after" yaml:"hard_stop_after,omitempty"`
	// SSLDefaultBind holds the defaults of every TLS bind (HAProxy's
	// ssl-default-bind-ciphers and ssl-default-bind-options).
	SSLDefaultBind *SSLDefaultBind `mapstructure:"ssl_default_bind" yaml:"ssl_default_bind,omitempty"`
	// TLSTickets sets the rotation of the session ticket keys shared by
	// every TLS bind.
	TLSTickets *TLSTickets `mapstructure:"tls_tickets" yaml:"tls_tickets,omitempty"`
	// SSLServerVerify is the verify of servers whose ssl block does not
	// say (HAProxy's ssl-server-verify): required (default) or none.
	SSLServerVerify string `mapstructure:"ssl_server_verify" yaml:"ssl_server_verify,omitempty"`
}

// RuntimeAPI is the access to the control socket as HAProxy's `stats
// socket <path> mode <m> user <u> group <g> level <l>`.
type RuntimeAPI struct {
	// Level of the runtime API text commands: user (read only), operator
	// (read, no changes; HAProxy's default) or admin (changes allowed).
	Level string `mapstructure:"level" yaml:"level,omitempty"`
	// Mode of the socket file, octal ("0660"); default 0600. lbctl changes
	// (HTTP API) from other users than root and lbd's own need level admin.
	Mode string `mapstructure:"mode" yaml:"mode,omitempty"`
	// User and Group own the socket file; empty keeps lbd's.
	User  string `mapstructure:"user" yaml:"user,omitempty"`
	Group string `mapstructure:"group" yaml:"group,omitempty"`
}

// SSLDefaultBind is HAProxy's ssl-default-bind-ciphers/-options.
type SSLDefaultBind struct {
	// Ciphers is an OpenSSL-style TLS 1.2 cipher list ("A:B:!C"); empty:
	// Mozilla's intermediate ECDHE suites (docs/tls.md).
	Ciphers string `mapstructure:"ciphers" yaml:"ciphers,omitempty"`
	// Options are ssl-default-bind-options words (no-tlsv12, ssl-min-ver
	// TLSv1.3, no-tls-tickets, ...).
	Options []string `mapstructure:"options" yaml:"options,omitempty"`
}

// TLSTickets is the session ticket key rotation.
type TLSTickets struct {
	// Rotate is how often a new key is made; default 12h.
	Rotate time.Duration `mapstructure:"rotate" yaml:"rotate,omitempty"`
	// Keep is how many previous keys still decrypt tickets; default 2.
	Keep *int `mapstructure:"keep" yaml:"keep,omitempty"`
}

// Bind is one listening address of a frontend or listen section. In YAML
// it is either a string (plain TCP: "*:80") or a mapping with the address
// and an ssl block (TLS termination).
type Bind struct {
	Address string   `mapstructure:"address" yaml:"address"`
	SSL     *BindSSL `mapstructure:"ssl" yaml:"ssl,omitempty"`
}

// BindSSL makes a bind terminate TLS (HAProxy's `bind ... ssl crt ...`).
type BindSSL struct {
	// Crt lists certificate files or directories, in order (HAProxy's crt).
	// Relative paths are relative to the config file's directory.
	Crt []string `mapstructure:"crt" yaml:"crt"`
	// DefaultCrt is the file served without a matching SNI; default: the
	// first certificate loaded.
	DefaultCrt string `mapstructure:"default_crt" yaml:"default_crt,omitempty"`
	// StrictSNI refuses handshakes without a matching SNI.
	StrictSNI bool `mapstructure:"strict_sni" yaml:"strict_sni,omitempty"`
	// ALPN lists the protocols offered, in order: h2, http/1.1. Empty: no
	// ALPN (HTTP/1.1).
	ALPN []string `mapstructure:"alpn" yaml:"alpn,omitempty"`
	// MinVersion and MaxVersion: TLSv1.2 or TLSv1.3; default 1.2 and 1.3.
	MinVersion string `mapstructure:"min_version" yaml:"min_version,omitempty"`
	MaxVersion string `mapstructure:"max_version" yaml:"max_version,omitempty"`
	// Ciphers replaces global.ssl_default_bind.ciphers for this bind.
	Ciphers string `mapstructure:"ciphers" yaml:"ciphers,omitempty"`
	// Options are added to global.ssl_default_bind.options.
	Options []string `mapstructure:"options" yaml:"options,omitempty"`
	// CAFile holds the CAs of client certificates; Verify is none
	// (default), optional or required.
	CAFile string `mapstructure:"ca_file" yaml:"ca_file,omitempty"`
	Verify string `mapstructure:"verify" yaml:"verify,omitempty"`
}

// Redirect is HAProxy's `redirect scheme SCHEME [code CODE] [if|unless
// COND]` in a frontend: answered before use_backends.
type Redirect struct {
	Scheme string `mapstructure:"scheme" yaml:"scheme"`
	// Code: 301, 302 (default), 303, 307 or 308.
	Code   int    `mapstructure:"code" yaml:"code,omitempty"`
	If     string `mapstructure:"if" yaml:"if,omitempty"`
	Unless string `mapstructure:"unless" yaml:"unless,omitempty"`
}

// LogTarget is one `log ADDR FACILITY [LEVEL]` line.
type LogTarget struct {
	// Address: "127.0.0.1" or "127.0.0.1:514" (UDP syslog), "unix:///dev/log",
	// or "stdout".
	Address string `mapstructure:"address" yaml:"address"`
	// Facility: kern, user, daemon, local0..local7 ...; default local0.
	Facility string `mapstructure:"facility" yaml:"facility,omitempty"`
	// Level is the most verbose level sent (emerg..debug); default info.
	Level string `mapstructure:"level" yaml:"level,omitempty"`
}

// Options mirrors HAProxy's `option` keywords. nil means "inherit from defaults".
type Options struct {
	HTTPLog         *bool       `mapstructure:"httplog" yaml:"httplog,omitempty"`
	TCPLog          *bool       `mapstructure:"tcplog" yaml:"tcplog,omitempty"`
	DontLogNull     *bool       `mapstructure:"dontlognull" yaml:"dontlognull,omitempty"`
	HTTPServerClose *bool       `mapstructure:"http_server_close" yaml:"http_server_close,omitempty"`
	HTTPClose       *bool       `mapstructure:"httpclose" yaml:"httpclose,omitempty"`
	Redispatch      *bool       `mapstructure:"redispatch" yaml:"redispatch,omitempty"`
	ForwardFor      *ForwardFor `mapstructure:"forwardfor" yaml:"forwardfor,omitempty"`
}

// ForwardFor is `option forwardfor [except CIDR] [header NAME] [if-none]`.
type ForwardFor struct {
	// Disabled turns off a forwardfor inherited from defaults.
	Disabled bool `mapstructure:"disabled" yaml:"disabled,omitempty"`
	// Except lists client networks (CIDR) that get no header.
	Except []string `mapstructure:"except" yaml:"except,omitempty"`
	// Header name; default X-Forwarded-For.
	Header string `mapstructure:"header" yaml:"header,omitempty"`
	// IfNone adds the header only when the request has none.
	IfNone bool `mapstructure:"if_none" yaml:"if_none,omitempty"`
}

// Timeouts are HAProxy's `timeout` keywords. Zero means "inherit/unset".
type Timeouts struct {
	HTTPRequest   time.Duration `mapstructure:"http_request" yaml:"http_request,omitempty"`
	HTTPKeepAlive time.Duration `mapstructure:"http_keep_alive" yaml:"http_keep_alive,omitempty"`
	Client        time.Duration `mapstructure:"client" yaml:"client,omitempty"`
	Server        time.Duration `mapstructure:"server" yaml:"server,omitempty"`
	Connect       time.Duration `mapstructure:"connect" yaml:"connect,omitempty"`
	Queue         time.Duration `mapstructure:"queue" yaml:"queue,omitempty"`
	Tunnel        time.Duration `mapstructure:"tunnel" yaml:"tunnel,omitempty"`
	Check         time.Duration `mapstructure:"check" yaml:"check,omitempty"`
	// Tarpit is how long a tarpit rule holds a request; default: connect.
	Tarpit time.Duration `mapstructure:"tarpit" yaml:"tarpit,omitempty"`
	// Legacy HAProxy 1.4 aliases: contimeout=connect, clitimeout=client,
	// srvtimeout=server. Load folds them into the modern fields.
	Contimeout time.Duration `mapstructure:"contimeout" yaml:"contimeout,omitempty"`
	Clitimeout time.Duration `mapstructure:"clitimeout" yaml:"clitimeout,omitempty"`
	Srvtimeout time.Duration `mapstructure:"srvtimeout" yaml:"srvtimeout,omitempty"`
	// TunnelSet records that the section set tunnel itself rather than
	// inheriting it: a backend's own tunnel wins over a frontend's, which
	// wins over the backend's inherited one (docs/config.md). Set by Load;
	// not a YAML key.
	TunnelSet bool `mapstructure:"-" yaml:"-"`
}

// Common holds keywords valid in defaults, frontend, backend and listen.
type Common struct {
	// Mode is "http" (default) or "tcp".
	Mode string `mapstructure:"mode" yaml:"mode,omitempty"`
	// Log: "global" (default) uses global.log; "none" disables logging.
	Log      string   `mapstructure:"log" yaml:"log,omitempty"`
	Options  Options  `mapstructure:"options" yaml:"options,omitempty"`
	Timeouts Timeouts `mapstructure:"timeouts" yaml:"timeouts,omitempty"`
	// Retries is the number of extra connection attempts; default 3.
	Retries *int `mapstructure:"retries" yaml:"retries,omitempty"`
	// Maxconn: per-frontend concurrent connections; 0 = global maxconn.
	Maxconn int `mapstructure:"maxconn" yaml:"maxconn,omitempty"`
}

// FrontendPart holds the keywords that make a section accept traffic.
type FrontendPart struct {
	// H2Part holds the HTTP/2 keys (h2.go).
	H2Part `mapstructure:",squash" yaml:",inline"`

	// Bind addresses: "*:80", "0.0.0.0:80", "10.10.0.100:80", "[::]:80",
	// or {address, ssl} for TLS.
	Bind           []Bind       `mapstructure:"bind" yaml:"bind,omitempty"`
	ACLs           []ACL        `mapstructure:"acls" yaml:"acls,omitempty"`
	Redirects      []Redirect   `mapstructure:"redirects" yaml:"redirects,omitempty"`
	UseBackends    []UseBackend `mapstructure:"use_backends" yaml:"use_backends,omitempty"`
	DefaultBackend string       `mapstructure:"default_backend" yaml:"default_backend,omitempty"`
	Stats          *Stats       `mapstructure:"stats" yaml:"stats,omitempty"`
	// ErrorFiles replace the built-in error pages (HAProxy errorfile).
	ErrorFiles []ErrorFile `mapstructure:"error_files" yaml:"error_files,omitempty"`
	// AcceptProxy expects a PROXY protocol header (v1 or v2) on every bind
	// of the section (HAProxy's bind ... accept-proxy); nil: none.
	AcceptProxy *AcceptProxy `mapstructure:"accept_proxy" yaml:"accept_proxy,omitempty"`
	// LogFormat replaces the httplog/tcplog line (HAProxy log-format).
	LogFormat string `mapstructure:"log_format" yaml:"log_format,omitempty"`
	// LogPrivacy masks or pseudonymises client addresses in access logs.
	LogPrivacy *LogPrivacy `mapstructure:"log_privacy" yaml:"log_privacy,omitempty"`
	// HTTPRequest and HTTPResponse are HAProxy's http-request and
	// http-response rules, run in order (rules.go, docs/proxy.md).
	HTTPRequest  []HTTPRule         `mapstructure:"http_request" yaml:"http_request,omitempty"`
	HTTPResponse []HTTPResponseRule `mapstructure:"http_response" yaml:"http_response,omitempty"`
	// TCPRequest holds tcp-request connection rules.
	TCPRequest *TCPRequest `mapstructure:"tcp_request" yaml:"tcp_request,omitempty"`
	// NormalizeURI: acl (default: path ACLs see the normalised path, the
	// request is forwarded unchanged), rewrite (forwarded normalised too)
	// or off.
	NormalizeURI string `mapstructure:"normalize_uri" yaml:"normalize_uri,omitempty"`
	// StickTable is a table named after the section (HAProxy stick-table).
	StickTable *StickTable `mapstructure:"stick_table" yaml:"stick_table,omitempty"`
}

// AcceptProxy is `bind ... accept-proxy`, optionally only from some sources.
type AcceptProxy struct {
	// From lists the sources (CIDR or address) that must send the header;
	// others are served as direct clients. Empty: every connection.
	From []string `mapstructure:"from" yaml:"from,omitempty"`
}

// LogPrivacy is how client addresses appear in a section's access logs
// (not in X-Forwarded-For or ACLs).
type LogPrivacy struct {
	// Mode: mask (keep the network prefix) or pseudonym (keyed hash, key
	// rotated daily).
	Mode string `mapstructure:"mode" yaml:"mode"`
	// IPv4Prefix and IPv6Prefix are the bits kept by mask; default 24 and 48.
	IPv4Prefix int `mapstructure:"ipv4_prefix" yaml:"ipv4_prefix,omitempty"`
	IPv6Prefix int `mapstructure:"ipv6_prefix" yaml:"ipv6_prefix,omitempty"`
	// KeepPort logs the client port; default false (logged as 0).
	KeepPort bool `mapstructure:"keep_port" yaml:"keep_port,omitempty"`
}

// BackendPart holds the keywords that make a section forward to servers.
type BackendPart struct {
	// Balance: roundrobin (default), leastconn, source, first.
	Balance     string       `mapstructure:"balance" yaml:"balance,omitempty"`
	Cookie      *Cookie      `mapstructure:"cookie" yaml:"cookie,omitempty"`
	HealthCheck *HealthCheck `mapstructure:"health_check" yaml:"health_check,omitempty"`
	Servers     []Server     `mapstructure:"servers" yaml:"servers,omitempty"`
}

// Defaults is HAProxy's defaults section: inherited by every frontend,
// backend and listen that does not set the keyword itself.
type Defaults struct {
	Common      `mapstructure:",squash" yaml:",inline"`
	Balance     string       `mapstructure:"balance" yaml:"balance,omitempty"`
	HealthCheck *HealthCheck `mapstructure:"health_check" yaml:"health_check,omitempty"`
	// DefaultServer holds server settings inherited by every server line
	// (HAProxy default-server): inter, rise, fall, ...
	DefaultServer *ServerDefaults `mapstructure:"default_server" yaml:"default_server,omitempty"`
	ErrorFiles    []ErrorFile     `mapstructure:"error_files" yaml:"error_files,omitempty"`
}

// Frontend accepts client connections and picks a backend.
type Frontend struct {
	Name         string `mapstructure:"name" yaml:"name"`
	Common       `mapstructure:",squash" yaml:",inline"`
	FrontendPart `mapstructure:",squash" yaml:",inline"`
	// FromListen is set when Load expanded a listen section into this frontend.
	FromListen bool `mapstructure:"-" yaml:"-"`
	// Source is the key path the section came from ("frontends[0]", "listen[1]").
	Source string `mapstructure:"-" yaml:"-"`
}

// Backend is a pool of servers.
type Backend struct {
	Name        string `mapstructure:"name" yaml:"name"`
	Common      `mapstructure:",squash" yaml:",inline"`
	BackendPart `mapstructure:",squash" yaml:",inline"`
	// StickTable is a table named after the backend, for track-sc rules
	// and src_*(NAME) fetches of frontends (HAProxy's table-only backend).
	StickTable *StickTable `mapstructure:"stick_table" yaml:"stick_table,omitempty"`
	FromListen bool        `mapstructure:"-" yaml:"-"`
	Source     string      `mapstructure:"-" yaml:"-"`
}

// Listen is a frontend and a backend in one section, named once.
type Listen struct {
	Name         string `mapstructure:"name" yaml:"name"`
	Common       `mapstructure:",squash" yaml:",inline"`
	FrontendPart `mapstructure:",squash" yaml:",inline"`
	BackendPart  `mapstructure:",squash" yaml:",inline"`
}

// ACL is one `acl NAME CRITERION [-i] VALUE...` line. Several ACL entries with
// the same name are OR-ed, as in HAProxy.
type ACL struct {
	Name string `mapstructure:"name" yaml:"name"`
	// Criterion: path, path_beg, path_end, path_reg, hdr(NAME), hdr_beg(NAME),
	// hdr_end(NAME), method, src. hdr(host) etc. take the header in parentheses.
	Criterion  string   `mapstructure:"criterion" yaml:"criterion"`
	IgnoreCase bool     `mapstructure:"ignore_case" yaml:"ignore_case,omitempty"`
	Values     []string `mapstructure:"values" yaml:"values"`
}

// UseBackend is `use_backend NAME if|unless CONDITION`. Condition syntax is
// HAProxy's: ACL names AND-ed by spaces, `||` or `or` for OR, `!` negates.
type UseBackend struct {
	Backend string `mapstructure:"backend" yaml:"backend"`
	If      string `mapstructure:"if" yaml:"if,omitempty"`
	Unless  string `mapstructure:"unless" yaml:"unless,omitempty"`
}

// ErrorFile replaces the body of one built-in error response.
type ErrorFile struct {
	Code int    `mapstructure:"code" yaml:"code"`
	File string `mapstructure:"file" yaml:"file"`
}

// Cookie is `cookie NAME insert|rewrite|prefix [indirect] [nocache] ...`.
type Cookie struct {
	Name string `mapstructure:"name" yaml:"name"`
	// Mode: insert (default), rewrite, prefix.
	Mode     string `mapstructure:"mode" yaml:"mode,omitempty"`
	Indirect bool   `mapstructure:"indirect" yaml:"indirect,omitempty"`
	NoCache  bool   `mapstructure:"nocache" yaml:"nocache,omitempty"`
	HTTPOnly bool   `mapstructure:"httponly" yaml:"httponly,omitempty"`
	Secure   bool   `mapstructure:"secure" yaml:"secure,omitempty"`
	Domain   string `mapstructure:"domain" yaml:"domain,omitempty"`
	// Preserve keeps a server's own Set-Cookie for NAME (HAProxy preserve).
	Preserve bool `mapstructure:"preserve" yaml:"preserve,omitempty"`
}

// HealthCheck selects the check servers with `check: true` run.
type HealthCheck struct {
	// Type: tcp (default: connect only) or http (option httpchk).
	Type string `mapstructure:"type" yaml:"type,omitempty"`
	// Method, URI, Version: the request line; defaults OPTIONS / HTTP/1.0
	// as HAProxy's `option httpchk` with no arguments.
	Method  string `mapstructure:"method" yaml:"method,omitempty"`
	URI     string `mapstructure:"uri" yaml:"uri,omitempty"`
	Version string `mapstructure:"version" yaml:"version,omitempty"`
	// Host header to send (HTTP/1.1 requires one).
	Host   string       `mapstructure:"host" yaml:"host,omitempty"`
	Expect *CheckExpect `mapstructure:"expect" yaml:"expect,omitempty"`
}

// CheckExpect is `http-check expect status N | rstatus RE | string S`; nil
// means any 2xx or 3xx status passes.
type CheckExpect struct {
	Status  int    `mapstructure:"status" yaml:"status,omitempty"`
	RStatus string `mapstructure:"rstatus" yaml:"rstatus,omitempty"`
	String  string `mapstructure:"string" yaml:"string,omitempty"`
}

// ServerDefaults are the per-server settings that defaults.default_server sets.
type ServerDefaults struct {
	Inter        time.Duration `mapstructure:"inter" yaml:"inter,omitempty"`
	FastInter    time.Duration `mapstructure:"fastinter" yaml:"fastinter,omitempty"`
	DownInter    time.Duration `mapstructure:"downinter" yaml:"downinter,omitempty"`
	Rise         int           `mapstructure:"rise" yaml:"rise,omitempty"`
	Fall         int           `mapstructure:"fall" yaml:"fall,omitempty"`
	Maxconn      int           `mapstructure:"maxconn" yaml:"maxconn,omitempty"`
	Maxqueue     int           `mapstructure:"maxqueue" yaml:"maxqueue,omitempty"`
	OnMarkedDown string        `mapstructure:"on_marked_down" yaml:"on_marked_down,omitempty"`
	// SSL makes lbd speak TLS to the server (HAProxy's `ssl verify ...
	// ca-file ... sni ...`); nil: plain TCP. A server's block is merged
	// over default_server's, key by key.
	SSL *ServerSSL `mapstructure:"ssl" yaml:"ssl,omitempty"`
	// CheckSSL runs health checks over TLS (HAProxy's check-ssl). Unset:
	// checks use TLS when the server has ssl and they go to its traffic
	// address (no check_port/check_addr), as HAProxy does; false turns
	// that off.
	CheckSSL *bool `mapstructure:"check_ssl" yaml:"check_ssl,omitempty"`
	// CheckSNI is the SNI of TLS health checks (HAProxy's check-sni); the
	// server's sni is not used for checks.
	CheckSNI string `mapstructure:"check_sni" yaml:"check_sni,omitempty"`
}

// ServerSSL is TLS to one server (docs/tls.md, "TLS to servers").
type ServerSSL struct {
	// Enabled false turns TLS off for the server (HAProxy's no-ssl), also
	// when defaults.default_server has an ssl block; the other keys are
	// then unused. Unset or true: TLS on. Like every key it is merged from
	// default_server, so a default_server block with enabled false holds
	// settings for the servers that say enabled: true. Use On().
	Enabled *bool `mapstructure:"enabled" yaml:"enabled,omitempty"`
	// Verify is required (the server's certificate must lead to a root of
	// ca_file, and match the SNI when one is sent) or none; default
	// global.ssl_server_verify, itself required by default.
	Verify string `mapstructure:"verify" yaml:"verify,omitempty"`
	// CAFile is a PEM file of the roots; empty: the system's roots.
	// Relative paths are relative to the config file's directory.
	CAFile string `mapstructure:"ca_file" yaml:"ca_file,omitempty"`
	// SNI is the server name sent: str(NAME), req.hdr(host) (the
	// request's Host without its port) or ssl_fc_sni (the client's SNI);
	// empty: none.
	SNI string `mapstructure:"sni" yaml:"sni,omitempty"`
	// VerifyHost is the name the server's certificate must match
	// (HAProxy's verifyhost), checked instead of the SNI and whatever SNI
	// is sent (none too); empty: the SNI, when one is sent. Only with
	// verify required.
	VerifyHost string `mapstructure:"verify_host" yaml:"verify_host,omitempty"`
	// Crt is a client certificate (PEM with the key, or the key in
	// Crt+".key") presented to servers that ask for one.
	Crt string `mapstructure:"crt" yaml:"crt,omitempty"`
}

// Server is one `server NAME ADDR:PORT [params]` line.
type Server struct {
	Name string `mapstructure:"name" yaml:"name"`
	// Address is HOST:PORT (IPv6 as [addr]:port).
	Address string `mapstructure:"address" yaml:"address"`
	// Check enables health checks (the backend's health_check type).
	Check bool `mapstructure:"check" yaml:"check,omitempty"`
	// Cookie is the persistence cookie value for this server.
	Cookie string `mapstructure:"cookie" yaml:"cookie,omitempty"`
	// Weight 0..256; default 1. nil means default.
	Weight *int `mapstructure:"weight" yaml:"weight,omitempty"`
	// Backup servers get traffic only when no active server is usable.
	Backup bool `mapstructure:"backup" yaml:"backup,omitempty"`
	// Disabled starts the server in MAINT.
	Disabled bool `mapstructure:"disabled" yaml:"disabled,omitempty"`
	// CheckPort / CheckAddr: run checks against another port/address.
	CheckPort int    `mapstructure:"check_port" yaml:"check_port,omitempty"`
	CheckAddr string `mapstructure:"check_addr" yaml:"check_addr,omitempty"`
	// SendProxy sends a PROXY protocol header to the server: v1
	// (send-proxy) or v2 (send-proxy-v2); empty: none.
	SendProxy string `mapstructure:"send_proxy" yaml:"send_proxy,omitempty"`
	// CheckSendProxy makes health checks send the header too (v1 unless
	// send_proxy says v2). Checks to the traffic address of a send_proxy
	// server send it anyway, as HAProxy does.
	CheckSendProxy bool `mapstructure:"check_send_proxy" yaml:"check_send_proxy,omitempty"`
	// Inter (default 2s), FastInter, DownInter, Rise (2), Fall (3), Maxconn
	// (0: unlimited), Maxqueue (0: unlimited), OnMarkedDown
	// ("shutdown-sessions" or empty).
	ServerDefaults `mapstructure:",squash" yaml:",inline"`
}

// Stats configures the HTML/CSV statistics page.
type Stats struct {
	Enable bool   `mapstructure:"enable" yaml:"enable"`
	URI    string `mapstructure:"uri" yaml:"uri,omitempty"`
	Realm  string `mapstructure:"realm" yaml:"realm,omitempty"`
	// Auth lists "user:password" pairs; empty means no authentication.
	Auth        []string      `mapstructure:"auth" yaml:"auth,omitempty"`
	HideVersion bool          `mapstructure:"hide_version" yaml:"hide_version,omitempty"`
	Refresh     time.Duration `mapstructure:"refresh" yaml:"refresh,omitempty"`
}

// StatsListener is a stats page on its own bind.
type StatsListener struct {
	Bind  []string `mapstructure:"bind" yaml:"bind"`
	Stats `mapstructure:",squash" yaml:",inline"`
}

// Metrics is the Prometheus endpoint; off unless configured.
type Metrics struct {
	Bind string `mapstructure:"bind" yaml:"bind"`
	// Path defaults to /metrics.
	Path string `mapstructure:"path" yaml:"path,omitempty"`
}
