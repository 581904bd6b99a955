package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbd-ha/lbd/internal/control"
)

var t0 = time.Unix(1_700_000_000, 0)

func sample() control.Status {
	return control.Status{
		Version: "1.0", PID: 10, StartedAt: t0, ConfigLoad: t0.Add(time.Minute),
		LastReload: &control.ReloadResult{At: t0.Add(2 * time.Minute), OK: false, Error: "bad", Source: "lbctl"},
		Sysctl: []control.SysctlResult{
			{Key: "net.ipv4.ip_nonlocal_bind", Old: "0", New: "1", Changed: true},
			{Key: "fs.file-max", Warning: "permission denied"},
		},
		VRRP: []control.VRRPStatus{{
			Name: "VI_1", State: "BACKUP", BasePriority: 100, EffectivePriority: 90,
			Transitions: 4, AdvertsRx: 1000, AdvertsTx: 12, Drops: map[string]uint64{"ttl": 2},
			LastTransition: t0.Add(3 * time.Minute),
		}},
		Frontends: []control.FrontendStatus{
			{Name: "web", Mode: "http", Serving: true, Sessions: 3, MaxSession: 9, Limit: 2000, Total: 100,
				Requests: 250, ReqRate: 1.5, BytesIn: 1000, BytesOut: 50000, DeniedReq: 1, ErrorsReq: 2,
				Responses: map[string]uint64{"2xx": 240, "5xx": 10}},
			{Name: "pg", Mode: "tcp", Serving: false},
		},
		Backends: []control.BackendStatus{{
			Name: "web", Mode: "http", Usable: true, Sessions: 3, Total: 100, Queue: 1, MaxQueue: 4,
			ErrorsConn: 5, Retries: 6, Redispatch: 2, Responses: map[string]uint64{"2xx": 240},
			Servers: []control.ServerStatus{
				{Name: "a", State: "UP", Weight: 2, Sessions: 3, Limit: 50, Total: 60,
					Check:      control.CheckStatus{Enabled: true, Result: "L7OK", Duration: 4 * time.Millisecond, Health: 4},
					LastChange: t0.Add(time.Hour), Transitions: 1, Responses: map[string]uint64{"2xx": 200}},
				{Name: "b", State: "DOWN", Weight: 1, Total: 40, ErrorsConn: 5, DowntimeSec: 12.5,
					Check: control.CheckStatus{Enabled: true, Result: "L4CON"}, Transitions: 3},
				{Name: "c", State: "MAINT"},
			},
		}},
	}
}

func TestCollectorValues(t *testing.T) {
	c := NewCollector(sample)
	want := `
# HELP lbd_server_state Server state: 1 for the current state (UP, DOWN, DRAIN, MAINT).
# TYPE lbd_server_state gauge
lbd_server_state{backend="web",server="a",state="DOWN"} 0
lbd_server_state{backend="web",server="a",state="DRAIN"} 0
lbd_server_state{backend="web",server="a",state="MAINT"} 0
lbd_server_state{backend="web",server="a",state="UP"} 1
lbd_server_state{backend="web",server="b",state="DOWN"} 1
lbd_server_state{backend="web",server="b",state="DRAIN"} 0
lbd_server_state{backend="web",server="b",state="MAINT"} 0
lbd_server_state{backend="web",server="b",state="UP"} 0
lbd_server_state{backend="web",server="c",state="DOWN"} 0
lbd_server_state{backend="web",server="c",state="DRAIN"} 0
lbd_server_state{backend="web",server="c",state="MAINT"} 1
lbd_server_state{backend="web",server="c",state="UP"} 0
# HELP lbd_server_check_up 1 if the last health check passed; absent without checks.
# TYPE lbd_server_check_up gauge
lbd_server_check_up{backend="web",server="a"} 1
lbd_server_check_up{backend="web",server="b"} 0
# HELP lbd_frontend_bytes_out_total Bytes sent to clients.
# TYPE lbd_frontend_bytes_out_total counter
lbd_frontend_bytes_out_total{frontend="pg"} 0
lbd_frontend_bytes_out_total{frontend="web"} 50000
# HELP lbd_frontend_http_responses_total HTTP responses by status class.
# TYPE lbd_frontend_http_responses_total counter
lbd_frontend_http_responses_total{code="1xx",frontend="web"} 0
lbd_frontend_http_responses_total{code="2xx",frontend="web"} 240
lbd_frontend_http_responses_total{code="3xx",frontend="web"} 0
lbd_frontend_http_responses_total{code="4xx",frontend="web"} 0
lbd_frontend_http_responses_total{code="5xx",frontend="web"} 10
lbd_frontend_http_responses_total{code="other",frontend="web"} 0
# HELP lbd_frontend_up 1 if the frontend is accepting connections.
# TYPE lbd_frontend_up gauge
lbd_frontend_up{frontend="pg"} 0
lbd_frontend_up{frontend="web"} 1
# HELP lbd_backend_servers Servers in the backend by state.
# TYPE lbd_backend_servers gauge
lbd_backend_servers{backend="web",state="DOWN"} 1
lbd_backend_servers{backend="web",state="DRAIN"} 0
lbd_backend_servers{backend="web",state="MAINT"} 1
lbd_backend_servers{backend="web",state="UP"} 1
# HELP lbd_backend_retries_total Connection retries.
# TYPE lbd_backend_retries_total counter
lbd_backend_retries_total{backend="web"} 6
# HELP lbd_server_limit_sessions Configured connection limit (maxconn); absent when unlimited.
# TYPE lbd_server_limit_sessions gauge
lbd_server_limit_sessions{backend="web",server="a"} 50
# HELP lbd_server_downtime_seconds_total Total time spent DOWN.
# TYPE lbd_server_downtime_seconds_total counter
lbd_server_downtime_seconds_total{backend="web",server="a"} 0
lbd_server_downtime_seconds_total{backend="web",server="b"} 12.5
lbd_server_downtime_seconds_total{backend="web",server="c"} 0
# HELP lbd_server_check_duration_seconds Duration of the last health check.
# TYPE lbd_server_check_duration_seconds gauge
lbd_server_check_duration_seconds{backend="web",server="a"} 0.004
lbd_server_check_duration_seconds{backend="web",server="b"} 0
# HELP lbd_vrrp_state VRRP state of this node: 1 for the current state.
# TYPE lbd_vrrp_state gauge
lbd_vrrp_state{state="BACKUP",vrrp_instance="VI_1"} 1
lbd_vrrp_state{state="FAULT",vrrp_instance="VI_1"} 0
lbd_vrrp_state{state="INIT",vrrp_instance="VI_1"} 0
lbd_vrrp_state{state="MASTER",vrrp_instance="VI_1"} 0
# HELP lbd_vrrp_priority Effective VRRP priority (after tracking).
# TYPE lbd_vrrp_priority gauge
lbd_vrrp_priority{vrrp_instance="VI_1"} 90
# HELP lbd_vrrp_transitions_total VRRP state transitions.
# TYPE lbd_vrrp_transitions_total counter
lbd_vrrp_transitions_total{vrrp_instance="VI_1"} 4
# HELP lbd_vrrp_adverts_received_total VRRP advertisements received and accepted.
# TYPE lbd_vrrp_adverts_received_total counter
lbd_vrrp_adverts_received_total{vrrp_instance="VI_1"} 1000
# HELP lbd_vrrp_dropped_packets_total VRRP packets dropped, by reason.
# TYPE lbd_vrrp_dropped_packets_total counter
lbd_vrrp_dropped_packets_total{reason="ttl",vrrp_instance="VI_1"} 2
# HELP lbd_sysctl_applied 1 if the kernel setting holds the wanted value, 0 if it could not be read or written.
# TYPE lbd_sysctl_applied gauge
lbd_sysctl_applied{key="fs.file-max"} 0
lbd_sysctl_applied{key="net.ipv4.ip_nonlocal_bind"} 1
# HELP lbd_sysctl_changed 1 if lbd changed this kernel setting at start.
# TYPE lbd_sysctl_changed gauge
lbd_sysctl_changed{key="fs.file-max"} 0
lbd_sysctl_changed{key="net.ipv4.ip_nonlocal_bind"} 1
# HELP lbd_config_last_reload_successful 1 if the last reload was accepted, 0 if it was rejected.
# TYPE lbd_config_last_reload_successful gauge
lbd_config_last_reload_successful 0
# HELP lbd_start_time_seconds Unix time the daemon started.
# TYPE lbd_start_time_seconds gauge
lbd_start_time_seconds 1.7e+09
`
	names := []string{}
	for _, l := range strings.Split(want, "\n") {
		if strings.HasPrefix(l, "# TYPE ") {
			names = append(names, strings.Fields(l)[2])
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// TCP frontends get no HTTP series.
	if n := testutil.CollectAndCount(c, "lbd_frontend_http_requests_total"); n != 1 {
		t.Fatalf("lbd_frontend_http_requests_total has %d series, want 1 (http frontend only)", n)
	}
}

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestDuplicateNamesDoNotBreakScrape(t *testing.T) {
	dup := func() control.Status {
		st := sample()
		st.Frontends = append(st.Frontends, st.Frontends[0])
		st.Backends[0].Servers = append(st.Backends[0].Servers, st.Backends[0].Servers[0])
		return st
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(dup))
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather with duplicate names: %v", err)
	}
}

func TestHandlerScrape(t *testing.T) {
	calls := 0
	src := func() control.Status { calls++; return sample() }
	srv := httptest.NewServer(Handler(src, LogDropped(func() uint64 { return 7 })))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`lbd_build_info{commit="",goversion="go`,
		`lbd_backend_connection_errors_total{backend="web"} 5`,
		`lbd_server_sessions_total{backend="web",server="b"} 40`,
		`lbd_frontend_http_requests_per_second{frontend="web"} 1.5`,
		`lbd_log_dropped_total 7`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if calls != 1 {
		t.Errorf("source called %d times per scrape, want 1", calls)
	}
}

func TestPairMetrics(t *testing.T) {
	st := control.Status{Pair: &control.PairStatus{Link: "up", PeerConfigHash: "x", ConfigInSync: false,
		SplitBrain: []control.SplitBrain{{VRID: 51}}, SplitBrainTotal: 2, Refused: map[string]uint64{"replay": 1}}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(func() control.Status { return st }))
	want := `
# HELP lbd_pair_split_brain 1 while both nodes are MASTER for this VRID with the link up.
# TYPE lbd_pair_split_brain gauge
lbd_pair_split_brain{vrid="51"} 1
# HELP lbd_pair_split_brains_total Split brains detected (both nodes MASTER for one VRID while the link is up).
# TYPE lbd_pair_split_brains_total counter
lbd_pair_split_brains_total 2
# HELP lbd_pair_refused_total Pair link connections and messages refused, by reason.
# TYPE lbd_pair_refused_total counter
lbd_pair_refused_total{reason="replay"} 1
# HELP lbd_pair_link_up 1 if the pair link has heard from the peer within two intervals.
# TYPE lbd_pair_link_up gauge
lbd_pair_link_up 1
# HELP lbd_pair_config_in_sync 1 if the shared parts (node-local keys left out) of this node's config file and the peer's have the same SHA-256.
# TYPE lbd_pair_config_in_sync gauge
lbd_pair_config_in_sync 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "lbd_pair_split_brain", "lbd_pair_split_brains_total", "lbd_pair_refused_total", "lbd_pair_link_up", "lbd_pair_config_in_sync"); err != nil {
		t.Fatal(err)
	}
}
