package stats

import (
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

var testNow = time.Date(2026, time.November, 21, 12, 0, 0, 0, time.UTC)

// sampleStatus is a pair node with one listen section (frontend+backend
// named app), a TCP backend and every server state.
func sampleStatus() control.Status {
	return control.Status{
		Version: "1.2.3", PID: 4321, Node: "lb1", StartedAt: testNow.Add(-26 * time.Hour),
		ConfigFile: "/etc/lbd/lbd.yaml", ConfigLoad: testNow.Add(-90 * time.Second),
		LastReload: &control.ReloadResult{At: testNow.Add(-90 * time.Second), OK: true, Source: "SIGHUP"},
		VRRP: []control.VRRPStatus{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Version: 2, State: "MASTER",
			BasePriority: 101, EffectivePriority: 101, VIPs: []string{"10.10.0.100/24"}, VIPsHeld: true,
			LastTransition: testNow.Add(-3 * time.Hour), LastReason: "higher priority than peer", Transitions: 3,
		}},
		Frontends: []control.FrontendStatus{{
			Name: "app", Mode: "http", Binds: []string{"*:80"}, Serving: true,
			Sessions: 12, MaxSession: 80, Limit: 2000, Total: 15000, Requests: 40000, ReqRate: 42.4,
			BytesIn: 5 << 20, BytesOut: 3 << 30, DeniedReq: 1, ErrorsReq: 2,
			Responses: map[string]uint64{"2xx": 39000, "3xx": 500, "4xx": 400, "5xx": 100},
		}},
		Backends: []control.BackendStatus{
			{
				Name: "app", Mode: "http", Balance: "roundrobin", Usable: true,
				Sessions: 12, MaxSession: 70, Total: 15000, Queue: 1, MaxQueue: 9,
				BytesIn: 5 << 20, BytesOut: 3 << 30, ErrorsConn: 4, ErrorsResp: 5, Retries: 6, Redispatch: 2,
				Responses: map[string]uint64{"2xx": 39000, "5xx": 100},
				Servers: []control.ServerStatus{
					{
						Name: "web01", Address: "192.168.10.3:80", State: "UP", Weight: 1, Sessions: 7, MaxSession: 40, Limit: 100,
						Total: 8000, BytesIn: 3 << 20, BytesOut: 2 << 30, Responses: map[string]uint64{"2xx": 20000},
						Check:      control.CheckStatus{Enabled: true, Type: "http", Result: "L7OK", Code: 200, Duration: 3 * time.Millisecond, Health: 4, Rise: 2, Fall: 3},
						LastChange: testNow.Add(-2 * time.Hour),
					},
					{
						Name: "web02", Address: "192.168.10.4:80", State: "DOWN", Weight: 1, Total: 7000,
						ErrorsConn: 4, Retries: 6, Redispatch: 2,
						Check:       control.CheckStatus{Enabled: true, Type: "http", Result: "L4CON", Reason: "Connection refused", Health: 0, Rise: 2, Fall: 3},
						LastChange:  testNow.Add(-125 * time.Second),
						DowntimeSec: 125, Transitions: 1,
					},
					{Name: "web03", Address: "192.168.10.5:80", State: "DRAIN", Weight: 1, Sessions: 5, Check: control.CheckStatus{Enabled: true, Result: "L7OK", Health: 4, Rise: 2, Fall: 3}},
					{Name: "web04", Address: "192.168.10.6:80", State: "MAINT", Weight: 1},
					{Name: "spare", Address: "192.168.10.9:80", State: "UP", Weight: 1, Backup: true},
				},
			},
			{
				Name: "db", Mode: "tcp", Balance: "leastconn", Usable: true,
				Servers: []control.ServerStatus{
					{Name: "<script>alert(1)</script>", Address: "10.0.0.7:5432", State: "UP", Weight: 10,
						Check: control.CheckStatus{Enabled: true, Result: "L4OK", Health: 3, Rise: 2, Fall: 3}},
				},
			},
		},
	}
}
