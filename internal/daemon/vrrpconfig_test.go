package daemon

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/sysctl"
	"github.com/lbd-ha/lbd/vip"
	"github.com/lbd-ha/lbd/vrrp"
)

func TestVRRPInstanceFromLoadedConfig(t *testing.T) {
	cfg, err := config.LoadBytes("t.yaml", []byte(`
backends:
  - name: app
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    default_backend: app
vrrp:
  instances:
    - name: VI_1
      interface: eth0
      virtual_router_id: 51
      unicast_src: 10.0.0.1
      unicast_peers: [10.0.0.2]
      vips:
        - address: 10.0.0.100/24
        - {address: 10.0.1.100, interface: eth1, label: "eth1:vip"}
      track:
        interfaces: [{name: eth2}]
        backends: [{name: app, weight: -30}]
        frontends: [{name: web, weight: 10}]
      notify: {master: /bin/m, stop: /bin/s}
      garp: {master_refresh: 60s}
    - name: VI_6
      interface: eth0
      virtual_router_id: 52
      version: 3
      preempt: false
      preempt_delay: 5s
      advert_interval: 100ms
      priority: 150
      strict_checksum: true
      vips: [{address: "2001:db8::100/64"}]
      garp: {master_delay: 0s, master_repeat: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := vrrp.InstanceConfig{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 3, Priority: 100, Interval: time.Second, Preempt: true,
		VIPs: []vip.Address{
			{Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth0"},
			{Prefix: netip.MustParsePrefix("10.0.1.100/32"), Interface: "eth1", Label: "eth1:vip"},
		},
		UnicastSrc:   netip.MustParseAddr("10.0.0.1"),
		UnicastPeers: []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		Tracks: []vrrp.Track{
			{Kind: "interface", Name: "eth2"}, {Kind: "backend", Name: "app", Weight: -30}, {Kind: "frontend", Name: "web", Weight: 10},
		},
		Notify: vrrp.NotifyCommands{Master: "/bin/m", Stop: "/bin/s"},
		GARP:   vrrp.GARPSchedule{Repeat: config.DefaultGARPRepeat, Delay: config.DefaultGARPDelay, Refresh: time.Minute},
	}
	if got := vrrpInstance(cfg.VRRP.Instances[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("VI_1:\n got %+v\nwant %+v", got, want)
	}
	want6 := vrrp.InstanceConfig{
		Name: "VI_6", Interface: "eth0", VRID: 52, Version: 3, Priority: 150, Interval: 100 * time.Millisecond,
		PreemptDelay: 5 * time.Second, StrictChecksum: true,
		VIPs: []vip.Address{{Prefix: netip.MustParsePrefix("2001:db8::100/64"), Interface: "eth0"}},
		GARP: vrrp.GARPSchedule{Repeat: 2},
	}
	if got := vrrpInstance(cfg.VRRP.Instances[1]); !reflect.DeepEqual(got, want6) {
		t.Errorf("VI_6:\n got %+v\nwant %+v", got, want6)
	}
	// Every loaded instance is one a Node accepts.
	for _, in := range cfg.VRRP.Instances {
		if _, err := vrrp.NewNode(vrrpInstance(in), vrrp.Deps{Conn: nopConn{}, VIPs: vip.NewFake()}); err != nil {
			t.Errorf("%s: %v", in.Name, err)
		}
	}
}

// nopConn is a Conn that is never read.
type nopConn struct{}

func (nopConn) ReadAdvert([]byte) (int, vrrp.RecvInfo, error) { return 0, vrrp.RecvInfo{}, nil }
func (nopConn) WriteAdvert([]byte, netip.Addr) error          { return nil }
func (nopConn) LocalAddr() netip.Addr                         { return netip.MustParseAddr("10.0.0.1") }
func (nopConn) Close() error                                  { return nil }

// The status mappings copy every field: fill every source field and
// check that no served field is left zero.
func TestStatusMappingsCopyEveryField(t *testing.T) {
	now := time.Unix(1700000000, 0)
	v := vrrpStatus(vrrp.Status{Name: "VI_1", Interface: "eth0", VRID: 51, Version: 3, State: "MASTER",
		BasePriority: 100, EffectivePriority: 90, MasterIP: "10.0.0.1", AdvertInterval: time.Second,
		VIPs: []string{"10.0.0.100/24"}, VIPsHeld: true, HandedOver: true, LastTransition: now, LastReason: "r",
		Transitions: 1, AdvertsRx: 2, AdvertsTx: 3, Drops: map[string]uint64{"ttl": 2}})
	allSet(t, v)
	c := checkStatus(checks.CheckStatus{Enabled: true, Type: "http", Result: checks.L7OK, Status: 200, Reason: "ok", Info: "i",
		Duration: time.Millisecond, Health: 4, Rise: 2, Fall: 3, LastAt: now})
	allSet(t, c)
	var srv control.ServerStatus
	fillServerStatus(&srv, checks.ServerInfo{State: "UP", Check: checks.CheckStatus{Enabled: true}, LastChange: now, Downtime: time.Second, Transitions: 2})
	if srv.State != "UP" || !srv.Check.Enabled || srv.LastChange != now || srv.DowntimeSec != 1 || srv.Transitions != 2 {
		t.Errorf("server status %+v", srv)
	}
	for _, r := range sysctlStatus([]sysctl.Result{{Key: "k", Old: "0", New: "1", Changed: true, Warning: "w"}}) {
		allSet(t, r)
	}
}

func allSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Errorf("%T.%s not mapped", v, rv.Type().Field(i).Name)
		}
	}
}
