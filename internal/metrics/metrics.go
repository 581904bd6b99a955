package metrics

import (
	"net/http"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/internal/build"
	"github.com/lbd-ha/lbd/internal/control"
)

// ServerStates are the values of the state label of lbd_server_state; the
// series for the current state is 1, the others 0.
var ServerStates = []string{"UP", "DOWN", "DRAIN", "MAINT"}

// VRRPStates are the values of the state label of lbd_vrrp_state.
var VRRPStates = []string{"INIT", "BACKUP", "MASTER", "FAULT"}

// ResponseClasses are the values of the code label of *_http_responses_total.
var ResponseClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

type descs struct {
	buildInfo, startTime, configLoaded, reloadOK, reloadTime *prometheus.Desc

	sysctlChanged, sysctlApplied *prometheus.Desc

	vrrpState, vrrpPrio, vrrpBasePrio, vrrpHeld, vrrpTrans, vrrpRx, vrrpTx, vrrpDrops, vrrpLast *prometheus.Desc

	feUp, feCur, feMax, feLimit, feTotal, feReq, feRate, feIn, feOut, feDenied, feErr, feResp *prometheus.Desc
	feH2Streams, feH2Cur, feH2Abuse                                                           *prometheus.Desc

	tlsHandshakes, tlsFailures, certNotAfter *prometheus.Desc

	beUp, beCur, beMax, beTotal, beQ, beQMax, beIn, beOut, beEConn, beEResp, beRetr, beRedis, beResp, beServers *prometheus.Desc

	svState, svWeight, svCur, svMax, svLimit, svTotal, svQ, svQMax, svIn, svOut, svEConn, svEResp, svRetr, svRedis, svResp,
	svCheckUp, svCheckDur, svCheckHealth, svLastChange, svDowntime, svTrans *prometheus.Desc
	svTLSHandshakes, svTLSFailures *prometheus.Desc
}

func newDescs() *descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("lbd_"+name, help, labels, nil)
	}
	fe, be, sv := []string{"frontend"}, []string{"backend"}, []string{"backend", "server"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	return &descs{
		buildInfo:    d("build_info", "lbd build: version, commit and Go version; always 1.", "version", "commit", "goversion"),
		startTime:    d("start_time_seconds", "Unix time the daemon started."),
		configLoaded: d("config_loaded_timestamp_seconds", "Unix time the running configuration was loaded."),
		reloadOK:     d("config_last_reload_successful", "1 if the last reload was accepted, 0 if it was rejected."),
		reloadTime:   d("config_last_reload_timestamp_seconds", "Unix time of the last reload attempt."),

		sysctlChanged: d("sysctl_changed", "1 if lbd changed this kernel setting at start.", "key"),
		sysctlApplied: d("sysctl_applied", "1 if the kernel setting holds the wanted value, 0 if it could not be read or written.", "key"),

		vrrpState:    d("vrrp_state", "VRRP state of this node: 1 for the current state.", "vrrp_instance", "state"),
		vrrpPrio:     d("vrrp_priority", "Effective VRRP priority (after tracking).", "vrrp_instance"),
		vrrpBasePrio: d("vrrp_base_priority", "Configured VRRP priority.", "vrrp_instance"),
		vrrpHeld:     d("vrrp_vips_held", "1 if this node holds the instance's virtual addresses.", "vrrp_instance"),
		vrrpTrans:    d("vrrp_transitions_total", "VRRP state transitions.", "vrrp_instance"),
		vrrpRx:       d("vrrp_adverts_received_total", "VRRP advertisements received and accepted.", "vrrp_instance"),
		vrrpTx:       d("vrrp_adverts_sent_total", "VRRP advertisements sent.", "vrrp_instance"),
		vrrpDrops:    d("vrrp_dropped_packets_total", "VRRP packets dropped, by reason.", "vrrp_instance", "reason"),
		vrrpLast:     d("vrrp_last_transition_timestamp_seconds", "Unix time of the last VRRP transition.", "vrrp_instance"),

		feUp:     d("frontend_up", "1 if the frontend is accepting connections.", fe...),
		feCur:    d("frontend_current_sessions", "Current client connections.", fe...),
		feMax:    d("frontend_max_sessions", "Highest number of concurrent connections seen.", fe...),
		feLimit:  d("frontend_limit_sessions", "Configured connection limit (maxconn).", fe...),
		feTotal:  d("frontend_sessions_total", "Client connections accepted.", fe...),
		feReq:    d("frontend_http_requests_total", "HTTP requests received.", fe...),
		feRate:   d("frontend_http_requests_per_second", "HTTP request rate over the last seconds.", fe...),
		feIn:     d("frontend_bytes_in_total", "Bytes received from clients.", fe...),
		feOut:    d("frontend_bytes_out_total", "Bytes sent to clients.", fe...),
		feDenied: d("frontend_requests_denied_total", "Requests denied by rules.", fe...),
		feErr:    d("frontend_request_errors_total", "Invalid or failed client requests.", fe...),
		feResp:   d("frontend_http_responses_total", "HTTP responses by status class.", with(fe, "code")...),

		tlsHandshakes: d("tls_handshakes_total", "Completed TLS handshakes on the frontend's TLS binds.", fe...),
		tlsFailures:   d("tls_handshake_failures_total", "Failed TLS handshakes, by reason (no_shared_cipher, unknown_sni, bad_client_cert, timeout, protocol_version, no_certificate, other).", with(fe, "reason")...),
		certNotAfter:  d("tls_certificate_not_after_seconds", "Unix time a served certificate expires; alert on `- time() < 14*86400`.", "frontend", "bind", "file", "name"),
		feH2Streams:   d("frontend_h2_streams_total", "HTTP/2 streams opened by clients.", fe...),
		feH2Cur:       d("frontend_h2_current_streams", "HTTP/2 streams open now.", fe...),
		feH2Abuse:     d("frontend_h2_abuse_total", "HTTP/2 streams refused or reset, connections ended for floods.", with(fe, "kind")...),

		beUp:      d("backend_up", "1 if at least one server can take traffic.", be...),
		beCur:     d("backend_current_sessions", "Current connections to the backend's servers.", be...),
		beMax:     d("backend_max_sessions", "Highest number of concurrent connections seen.", be...),
		beTotal:   d("backend_sessions_total", "Connections handled by the backend.", be...),
		beQ:       d("backend_current_queue", "Requests waiting for a server.", be...),
		beQMax:    d("backend_max_queue", "Highest queue length seen.", be...),
		beIn:      d("backend_bytes_in_total", "Bytes sent to servers.", be...),
		beOut:     d("backend_bytes_out_total", "Bytes received from servers.", be...),
		beEConn:   d("backend_connection_errors_total", "Failed connection attempts to servers.", be...),
		beEResp:   d("backend_response_errors_total", "Aborted or invalid server responses.", be...),
		beRetr:    d("backend_retries_total", "Connection retries.", be...),
		beRedis:   d("backend_redispatches_total", "Requests redispatched to another server.", be...),
		beResp:    d("backend_http_responses_total", "HTTP responses by status class.", with(be, "code")...),
		beServers: d("backend_servers", "Servers in the backend by state.", with(be, "state")...),

		svState:       d("server_state", "Server state: 1 for the current state (UP, DOWN, DRAIN, MAINT).", with(sv, "state")...),
		svWeight:      d("server_weight", "Current load-balancing weight.", sv...),
		svCur:         d("server_current_sessions", "Current connections to the server.", sv...),
		svMax:         d("server_max_sessions", "Highest number of concurrent connections seen.", sv...),
		svLimit:       d("server_limit_sessions", "Configured connection limit (maxconn); absent when unlimited.", sv...),
		svTotal:       d("server_sessions_total", "Connections sent to the server.", sv...),
		svQ:           d("server_current_queue", "Requests queued for this server.", sv...),
		svQMax:        d("server_max_queue", "Highest queue length seen.", sv...),
		svIn:          d("server_bytes_in_total", "Bytes sent to the server.", sv...),
		svOut:         d("server_bytes_out_total", "Bytes received from the server.", sv...),
		svEConn:       d("server_connection_errors_total", "Failed connection attempts.", sv...),
		svEResp:       d("server_response_errors_total", "Aborted or invalid responses.", sv...),
		svRetr:        d("server_retries_total", "Connection retries.", sv...),
		svRedis:       d("server_redispatches_total", "Requests redispatched away from the server.", sv...),
		svResp:        d("server_http_responses_total", "HTTP responses by status class.", with(sv, "code")...),
		svCheckUp:     d("server_check_up", "1 if the last health check passed; absent without checks.", sv...),
		svCheckDur:    d("server_check_duration_seconds", "Duration of the last health check.", sv...),
		svCheckHealth: d("server_check_health", "Health counter (0..rise+fall-1), as HAProxy's.", sv...),
		svLastChange:  d("server_last_change_timestamp_seconds", "Unix time of the last state change.", sv...),
		svDowntime:    d("server_downtime_seconds_total", "Total time spent DOWN.", sv...),
		svTrans:       d("server_transitions_total", "State changes.", sv...),

		svTLSHandshakes: d("server_tls_handshakes_total", "Completed TLS handshakes with the server (ssl servers only).", sv...),
		svTLSFailures:   d("server_tls_handshake_failures_total", "Failed TLS handshakes with the server, by reason (bad_server_cert, timeout, refused, other); also counted in lbd_server_connection_errors_total (ssl servers only).", with(sv, "reason")...),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.buildInfo, d.startTime, d.configLoaded, d.reloadOK, d.reloadTime,
		d.sysctlChanged, d.sysctlApplied,
		d.vrrpState, d.vrrpPrio, d.vrrpBasePrio, d.vrrpHeld, d.vrrpTrans, d.vrrpRx, d.vrrpTx, d.vrrpDrops, d.vrrpLast,
		d.feUp, d.feCur, d.feMax, d.feLimit, d.feTotal, d.feReq, d.feRate, d.feIn, d.feOut, d.feDenied, d.feErr, d.feResp,
		d.tlsHandshakes, d.tlsFailures, d.certNotAfter,
		d.feH2Streams, d.feH2Cur, d.feH2Abuse,
		d.beUp, d.beCur, d.beMax, d.beTotal, d.beQ, d.beQMax, d.beIn, d.beOut, d.beEConn, d.beEResp, d.beRetr, d.beRedis, d.beResp, d.beServers,
		d.svState, d.svWeight, d.svCur, d.svMax, d.svLimit, d.svTotal, d.svQ, d.svQMax, d.svIn, d.svOut, d.svEConn, d.svEResp, d.svRetr, d.svRedis, d.svResp,
		d.svCheckUp, d.svCheckDur, d.svCheckHealth, d.svLastChange, d.svDowntime, d.svTrans,
		d.svTLSHandshakes, d.svTLSFailures,
	}
}

type collector struct {
	source func() control.Status
	d      *descs
	bgp    *bgpDescs
}

// NewCollector returns a collector that calls source once per scrape and
// turns the snapshot into lbd_* metrics.
func NewCollector(source func() control.Status) prometheus.Collector {
	return &collector{source: source, d: newDescs(), bgp: newBGPDescs()}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
	describePair(ch)
	c.bgp.describe(ch)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.source()
	d := c.d
	collectPair(ch, &st)
	c.bgp.collect(ch, &st)
	gauge := func(desc *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, lv...)
	}
	counter := func(desc *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), lv...)
	}
	responses := func(desc *prometheus.Desc, m map[string]uint64, lv ...string) {
		for _, class := range ResponseClasses {
			counter(desc, m[class], append(lv, class)...)
		}
	}

	gauge(d.buildInfo, 1, build.Version, build.Commit, runtime.Version())
	if !st.StartedAt.IsZero() {
		gauge(d.startTime, float64(st.StartedAt.UnixNano())/1e9)
	}
	if !st.ConfigLoad.IsZero() {
		gauge(d.configLoaded, float64(st.ConfigLoad.UnixNano())/1e9)
	}
	if r := st.LastReload; r != nil {
		gauge(d.reloadOK, b2f(r.OK))
		gauge(d.reloadTime, float64(r.At.UnixNano())/1e9)
	}

	seen := map[string]bool{}
	once := func(kind, name string) bool {
		k := kind + "\x00" + name
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}

	for _, s := range st.Sysctl {
		if !once("sysctl", s.Key) {
			continue
		}
		gauge(d.sysctlChanged, b2f(s.Changed), s.Key)
		gauge(d.sysctlApplied, b2f(s.Warning == ""), s.Key)
	}

	for _, v := range st.VRRP {
		if !once("vrrp", v.Name) {
			continue
		}
		state := strings.ToUpper(v.State)
		for _, s := range VRRPStates {
			gauge(d.vrrpState, b2f(s == state), v.Name, s)
		}
		gauge(d.vrrpPrio, float64(v.EffectivePriority), v.Name)
		gauge(d.vrrpBasePrio, float64(v.BasePriority), v.Name)
		gauge(d.vrrpHeld, b2f(v.VIPsHeld), v.Name)
		counter(d.vrrpTrans, v.Transitions, v.Name)
		counter(d.vrrpRx, v.AdvertsRx, v.Name)
		counter(d.vrrpTx, v.AdvertsTx, v.Name)
		for reason, n := range v.Drops {
			counter(d.vrrpDrops, n, v.Name, reason)
		}
		if !v.LastTransition.IsZero() {
			gauge(d.vrrpLast, float64(v.LastTransition.UnixNano())/1e9, v.Name)
		}
	}

	for _, f := range st.Frontends {
		if !once("fe", f.Name) {
			continue
		}
		n := f.Name
		gauge(d.feUp, b2f(f.Serving), n)
		gauge(d.feCur, float64(f.Sessions), n)
		gauge(d.feMax, float64(f.MaxSession), n)
		gauge(d.feLimit, float64(f.Limit), n)
		counter(d.feTotal, f.Total, n)
		counter(d.feIn, f.BytesIn, n)
		counter(d.feOut, f.BytesOut, n)
		counter(d.feDenied, f.DeniedReq, n)
		counter(d.feErr, f.ErrorsReq, n)
		if f.Mode != "tcp" {
			counter(d.feReq, f.Requests, n)
			gauge(d.feRate, f.ReqRate, n)
			responses(d.feResp, f.Responses, n)
			counter(d.feH2Streams, f.H2Streams, n)
			gauge(d.feH2Cur, float64(f.H2StreamsCur), n)
			counter(d.feH2Abuse, f.H2Refused, n, "refused")
			counter(d.feH2Abuse, f.H2Resets, n, "reset")
			counter(d.feH2Abuse, f.H2Calm, n, "flood")
		}
		if f.TLSFailures != nil {
			counter(d.tlsHandshakes, f.TLSHandshakes, n)
			for _, r := range certs.Reasons {
				counter(d.tlsFailures, f.TLSFailures[string(r)], n, string(r))
			}
		}
	}
	for _, c := range st.Certificates {
		name := c.Subject
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		if !once("cert", c.Frontend+"\x00"+c.Bind+"\x00"+c.File+"\x00"+name) {
			continue
		}
		gauge(d.certNotAfter, float64(c.NotAfter.Unix()), c.Frontend, c.Bind, c.File, name)
	}

	for _, b := range st.Backends {
		if !once("be", b.Name) {
			continue
		}
		n := b.Name
		gauge(d.beUp, b2f(b.Usable), n)
		gauge(d.beCur, float64(b.Sessions), n)
		gauge(d.beMax, float64(b.MaxSession), n)
		counter(d.beTotal, b.Total, n)
		gauge(d.beQ, float64(b.Queue), n)
		gauge(d.beQMax, float64(b.MaxQueue), n)
		counter(d.beIn, b.BytesIn, n)
		counter(d.beOut, b.BytesOut, n)
		counter(d.beEConn, b.ErrorsConn, n)
		counter(d.beEResp, b.ErrorsResp, n)
		counter(d.beRetr, b.Retries, n)
		counter(d.beRedis, b.Redispatch, n)
		if b.Mode != "tcp" {
			responses(d.beResp, b.Responses, n)
		}
		count := map[string]int{}
		for _, s := range b.Servers {
			if !once("sv"+"\x00"+n, s.Name) {
				continue
			}
			state := strings.ToUpper(s.State)
			count[state]++
			for _, st := range ServerStates {
				gauge(d.svState, b2f(st == state), n, s.Name, st)
			}
			gauge(d.svWeight, float64(s.Weight), n, s.Name)
			gauge(d.svCur, float64(s.Sessions), n, s.Name)
			gauge(d.svMax, float64(s.MaxSession), n, s.Name)
			if s.Limit > 0 {
				gauge(d.svLimit, float64(s.Limit), n, s.Name)
			}
			counter(d.svTotal, s.Total, n, s.Name)
			gauge(d.svQ, float64(s.Queue), n, s.Name)
			gauge(d.svQMax, float64(s.MaxQueue), n, s.Name)
			counter(d.svIn, s.BytesIn, n, s.Name)
			counter(d.svOut, s.BytesOut, n, s.Name)
			counter(d.svEConn, s.ErrorsConn, n, s.Name)
			counter(d.svEResp, s.ErrorsResp, n, s.Name)
			counter(d.svRetr, s.Retries, n, s.Name)
			counter(d.svRedis, s.Redispatch, n, s.Name)
			if b.Mode != "tcp" {
				responses(d.svResp, s.Responses, n, s.Name)
			}
			if s.Check.Enabled {
				if s.Check.Result != "" {
					gauge(d.svCheckUp, b2f(strings.HasPrefix(s.Check.Result, "L") && strings.Contains(s.Check.Result, "OK")), n, s.Name)
					gauge(d.svCheckDur, s.Check.Duration.Seconds(), n, s.Name)
				}
				gauge(d.svCheckHealth, float64(s.Check.Health), n, s.Name)
			}
			if !s.LastChange.IsZero() {
				gauge(d.svLastChange, float64(s.LastChange.UnixNano())/1e9, n, s.Name)
			}
			ch <- prometheus.MustNewConstMetric(d.svDowntime, prometheus.CounterValue, s.DowntimeSec, n, s.Name)
			counter(d.svTrans, s.Transitions, n, s.Name)
			if s.TLS {
				counter(d.svTLSHandshakes, s.TLSHandshakes, n, s.Name)
				for _, r := range certs.ServerReasons {
					counter(d.svTLSFailures, s.TLSFailureReasons[string(r)], n, s.Name, string(r))
				}
			}
		}
		for _, st := range ServerStates {
			gauge(d.beServers, float64(count[st]), n, st)
		}
	}
}

// NewRegistry returns a registry holding the lbd collector, the Go runtime
// and process collectors, and any extra collectors (e.g. a CounterFunc for
// the access-log drop count).
func NewRegistry(source func() control.Status, extra ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(source),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, c := range extra {
		reg.MustRegister(c)
	}
	return reg
}

// Handler serves the Prometheus text (or protobuf) exposition of
// NewRegistry(source). A collection problem is reported in the scrape but
// does not fail it.
func Handler(source func() control.Status, extra ...prometheus.Collector) http.Handler {
	reg := NewRegistry(source, extra...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Registry:            reg,
	})
}

// LogDropped returns the lbd_log_dropped_total counter, read from dropped
// at scrape time (pass (*logs.Logger).Dropped), for NewRegistry's extra
// collectors.
func LogDropped(dropped func() uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "lbd_log_dropped_total",
		Help: "Access and event log lines dropped because the log queue was full.",
	}, func() float64 { return float64(dropped()) })
}
