package config

import (
	"strings"
	"testing"
)

const trafficBase = `
frontends:
  - name: www
    bind: ["*:80"]
    default_backend: app
%s
backends:
  - name: app
    servers:
      - name: s1
        address: 10.0.0.1:80
%s
`

func trafficSrc(fe, srv string) []byte {
	return []byte(strings.Replace(strings.Replace(trafficBase, "%s", fe, 1), "%s", srv, 1))
}

func TestTrafficKeys(t *testing.T) {
	cfg, err := LoadBytes("t.yaml", trafficSrc(`    accept_proxy: {}
    log_format: "%ci:%cp %{+Q}r"
    log_privacy: {mode: mask}`, `        send_proxy: v2
        check_send_proxy: true`))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.FrontendByName("www")
	if f.AcceptProxy == nil || len(f.AcceptProxy.From) != 0 {
		t.Errorf("accept_proxy {}: %+v", f.AcceptProxy)
	}
	if lp := f.LogPrivacy; lp == nil || lp.IPv4Prefix != 24 || lp.IPv6Prefix != 48 {
		t.Errorf("log_privacy defaults: %+v", lp)
	}
	if s := cfg.BackendByName("app").Servers[0]; s.SendProxy != "v2" || !s.CheckSendProxy {
		t.Errorf("server: %+v", s)
	}
}

// TestTrafficErrors: each problem names file:line, key path and, for a
// log format, the column in the format string.
func TestTrafficErrors(t *testing.T) {
	_, err := LoadBytes("t.yaml", trafficSrc(`    accept_proxy: {from: [10.0.0.0/33]}
    log_format: "%ci:%cp %Tq %{+Q}r"
    log_privacy: {mode: hide, ipv4_prefix: 40}`, `        send_proxy: v3`))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`t.yaml:6: frontends[0].accept_proxy.from[0]`,
		`t.yaml:7: frontends[0].log_format: column 9 of the format: unknown variable %Tq`,
		`t.yaml:8: frontends[0].log_privacy.mode: must be mask or pseudonym`,
		`frontends[0].log_privacy.ipv4_prefix: must be 0..32`,
		`backends[0].servers[0].send_proxy: must be v1 or v2`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}
