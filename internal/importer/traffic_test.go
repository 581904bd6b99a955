package importer

import (
	"strings"
	"testing"
)

func TestImportProxyProtocolAndLogFormat(t *testing.T) {
	r := importString(t, `defaults
 mode http
 log-format "%ci:%cp [%tr] %ft %b/%s %ST %B %{+Q}r"
frontend f
 bind :80 accept-proxy
 default_backend b
frontend g
 bind :81
 log-format %ci\ %ST\ %[src]
 default_backend b
backend b
 server s1 127.0.0.1:1 send-proxy check
 server s2 127.0.0.1:2 send-proxy-v2 check-send-proxy check
`)
	f, g := r.Config.Frontends[0], r.Config.Frontends[1]
	if f.AcceptProxy == nil || g.AcceptProxy != nil {
		t.Errorf("accept_proxy: %+v / %+v", f.AcceptProxy, g.AcceptProxy)
	}
	if f.LogFormat != "%ci:%cp [%tr] %ft %b/%s %ST %B %{+Q}r" {
		t.Errorf("log_format from defaults: %q", f.LogFormat)
	}
	if g.LogFormat != f.LogFormat {
		t.Errorf("unsupported log-format should leave the inherited one: %q", g.LogFormat)
	}
	s := r.Config.Backends[0].Servers
	if s[0].SendProxy != "v1" || s[1].SendProxy != "v2" || !s[1].CheckSendProxy || s[0].CheckSendProxy {
		t.Errorf("servers: %+v", s)
	}
	text := warningsText(r)
	if !strings.Contains(text, "t.cfg:9: warning: log-format: column 9 of the format: sample expressions") {
		t.Errorf("log-format warning missing:\n%s", text)
	}
	for _, k := range []string{"send-proxy", "accept-proxy"} {
		if strings.Contains(text, "option "+k+" not supported") {
			t.Errorf("%s still reported unsupported:\n%s", k, text)
		}
	}
}

func TestImportAcceptProxyMixedBinds(t *testing.T) {
	r := importString(t, "frontend f\n mode http\n bind :80\n bind :81 accept-proxy\n default_backend b\nbackend b\n mode http\n server s 127.0.0.1:1\n")
	if r.Config.Frontends[0].AcceptProxy == nil {
		t.Fatal("accept_proxy not set")
	}
	if text := warningsText(r); !strings.Contains(text, "t.cfg:4: warning: bind accept-proxy: lbd's accept_proxy applies to every bind") {
		t.Errorf("mixed binds not warned:\n%s", text)
	}
}
