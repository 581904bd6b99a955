package importer

import (
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
)

func importString(t *testing.T, haproxy string) *Result {
	t.Helper()
	r, err := Import(Options{HAProxyPath: "t.cfg", HAProxy: strings.NewReader(haproxy)})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if _, err := config.LoadBytes("t.yaml", r.YAML); err != nil {
		t.Fatalf("lbd check rejects the import: %v\n%s", err, r.YAML)
	}
	return r
}

func TestHAProxyDefaultModeIsTCP(t *testing.T) {
	r := importString(t, "frontend f\n bind :80\n default_backend b\nbackend b\n server s 127.0.0.1:81\n")
	if r.Config.Frontends[0].Mode != "tcp" || r.Config.Backends[0].Mode != "tcp" {
		t.Errorf("modes %q/%q, want tcp (HAProxy's default)", r.Config.Frontends[0].Mode, r.Config.Backends[0].Mode)
	}
	r = importString(t, "defaults\n timeout client 5s\nbackend b\n server s 127.0.0.1:81\n")
	if r.Config.Defaults.Mode != "tcp" || r.Config.Backends[0].Mode != "" {
		t.Errorf("defaults mode %q, backend %q; want tcp in defaults only", r.Config.Defaults.Mode, r.Config.Backends[0].Mode)
	}
}

func TestHealthCheckMergesDefaults(t *testing.T) {
	r := importString(t, "defaults\n mode http\n option httpchk GET /h\nbackend b\n http-check expect status 204\n server s 127.0.0.1:81 check\n")
	hc := r.Config.Backends[0].HealthCheck
	if hc == nil || hc.URI != "/h" || hc.Method != "GET" || hc.Expect == nil || hc.Expect.Status != 204 {
		t.Errorf("health_check = %+v", hc)
	}
	if r.Config.Defaults.HealthCheck.Expect != nil {
		t.Error("the backend's expect leaked into defaults")
	}
}

func TestNoOptionAndLegacyTimeouts(t *testing.T) {
	r := importString(t, "defaults\n mode http\n option httplog\n option forwardfor\n contimeout 4000\n clitimeout 1m\n"+
		"frontend f\n bind :80\n no option httplog\n no option forwardfor\n default_backend b\nbackend b\n server s 127.0.0.1:1\n")
	fe := r.Config.Frontends[0]
	if fe.Options.HTTPLog == nil || *fe.Options.HTTPLog || fe.Options.ForwardFor == nil || !fe.Options.ForwardFor.Disabled {
		t.Errorf("frontend options = %+v", fe.Options)
	}
	to := r.Config.Defaults.Timeouts
	if to.Connect.String() != "4s" || to.Client.String() != "1m0s" || to.Contimeout != 0 {
		t.Errorf("timeouts = %+v", to)
	}
	if !strings.Contains(string(r.YAML), "connect: 4s # contimeout 4000") {
		t.Errorf("legacy timeout comment missing:\n%s", r.YAML)
	}
}

func TestServerAddressForms(t *testing.T) {
	r := importString(t, "backend b\n mode http\n server a ::1:80\n server b [::2]:81\n server c ipv4@10.0.0.1:82\n server d 10.0.0.2:83 check port 8080 addr 10.0.0.3\n")
	var got []string
	for _, s := range r.Config.Backends[0].Servers {
		got = append(got, s.Address)
	}
	if strings.Join(got, " ") != "[::1]:80 [::2]:81 10.0.0.1:82 10.0.0.2:83" {
		t.Errorf("addresses %q", got)
	}
	if s := r.Config.Backends[0].Servers[3]; s.CheckPort != 8080 || s.CheckAddr != "10.0.0.3" {
		t.Errorf("check port/addr = %d %q", s.CheckPort, s.CheckAddr)
	}
}

func TestUnsupportedIsReportedNotDropped(t *testing.T) {
	r := importString(t, "global\n tune.bufsize 1\n frobnicate 3\nfrontend f\n bind :80\n http-request deny\n default_backend b\nbackend b\n server s 127.0.0.1:1 slowstart 3s\n")
	if r.ExitCode() != 2 {
		t.Fatalf("exit %d, want 2", r.ExitCode())
	}
	want := map[string]int{"tune.bufsize": 2, "frobnicate": 3, "http-request deny": 6, "server slowstart": 9}
	for _, w := range r.Warnings {
		if line, ok := want[w.Directive]; ok && line == w.Line && w.Severity == SeverityWarning {
			delete(want, w.Directive)
		}
	}
	if len(want) > 0 {
		t.Errorf("not reported: %v; got %s", want, warningsText(r))
	}
	for i := 1; i < len(r.Warnings); i++ {
		if r.Warnings[i].Line < r.Warnings[i-1].Line {
			t.Errorf("warnings not in file order: %s", warningsText(r))
		}
	}
}

func TestDefaultsStatsAndCookiePushedDown(t *testing.T) {
	r := importString(t, "defaults\n mode http\n stats uri /st\n cookie SRV insert\nfrontend f\n bind :80\n default_backend b\nbackend b\n server s 127.0.0.1:1 cookie s1\n")
	if st := r.Config.Frontends[0].Stats; st == nil || st.URI != "/st" || !st.Enable {
		t.Errorf("frontend stats = %+v", st)
	}
	if ck := r.Config.Backends[0].Cookie; ck == nil || ck.Name != "SRV" {
		t.Errorf("backend cookie = %+v", ck)
	}
}

func TestDefaultBackendInDefaults(t *testing.T) {
	r := importString(t, "defaults\n mode http\n default_backend b\nfrontend f\n bind :80\nfrontend g\n bind :81\n default_backend c\nbackend b\n server s 127.0.0.1:1\nbackend c\n server s 127.0.0.1:2\n")
	if r.Config.Frontends[0].DefaultBackend != "b" || r.Config.Frontends[1].DefaultBackend != "c" {
		t.Errorf("default_backend = %q, %q; want b, c", r.Config.Frontends[0].DefaultBackend, r.Config.Frontends[1].DefaultBackend)
	}
	_, err := Import(Options{HAProxyPath: "t.cfg", HAProxy: strings.NewReader("defaults\n default_backend nope\n")})
	if err == nil || !strings.Contains(err.Error(), `t.cfg:2: backend "nope" not found`) {
		t.Errorf("err = %v", err)
	}
}

func TestKeepalivedBlockKeywordNeedsBlock(t *testing.T) {
	_, err := Import(Options{KeepalivedPath: "k.conf", Keepalived: strings.NewReader("vrrp_instance V {\n interface e\n virtual_router_id 1\n virtual_ipaddress 10.0.0.1\n}\n")})
	if err == nil || !strings.Contains(err.Error(), "k.conf:4: virtual_ipaddress: want a { ... } block") {
		t.Errorf("err = %v", err)
	}
}
