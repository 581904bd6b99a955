package daemon

import (
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/proxy"
)

// TestProxyRulesMapping maps rules, tables and userlists from lbd.yaml and
// has the proxy compile them.
func TestProxyRulesMapping(t *testing.T) {
	src := `
userlists:
  - {name: admins, users: ["alice:s3cret"]}
frontends:
  - name: www
    bind: ["127.0.0.1:18080"]
    default_backend: app
    normalize_uri: rewrite
    timeouts: {tarpit: 2s}
    stick_table: {size: 1000, expire: 30s, store: ["http_req_rate(10s)", conn_cur]}
    tcp_request:
      connection:
        - {action: track-sc1, key: src, table: abuse}
        - {action: reject, if: "{ sc1_conn_cur gt 100 }"}
    http_request:
      - {action: track-sc0, key: src}
      - {action: deny, deny_status: 429, if: "{ sc_http_req_rate(0) gt 20 }"}
      - {action: auth, userlist: admins, if: "{ path_beg /ops }"}
      - {action: redirect, prefix: "https://example.com", code: 308, if: "{ path_beg /old }"}
      - {action: return, status: 204, if: "{ path /ping }"}
      - {action: tarpit, if: "{ path_beg /wp- }"}
    http_response:
      - {action: set-header, name: Strict-Transport-Security, value: "max-age=63072000"}
backends:
  - name: app
    servers: [{name: a, address: "127.0.0.1:9"}]
  - name: abuse
    stick_table: {size: 100, expire: 1m, store: [conn_cur, "conn_rate(10s)"]}
`
	cfg, err := config.LoadBytes("rules.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := proxyConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := pc.Frontends[0]
	if len(f.HTTPRequestRules) != 6 || len(f.HTTPResponseRules) != 1 || len(f.TCPConnectionRules) != 2 {
		t.Fatalf("rules %+v", f)
	}
	if f.HTTPRequestRules[1].Status != 429 || f.HTTPRequestRules[3].Status != 308 || f.HTTPRequestRules[4].Status != 204 {
		t.Errorf("statuses %+v", f.HTTPRequestRules)
	}
	if got := f.HTTPRequestRules[2].Users; len(got) != 1 || got[0] != "alice:s3cret" {
		t.Errorf("auth users %v", got)
	}
	if f.NormalizeURI != proxy.NormalizeRewrite || f.TarpitTimeout != 2*time.Second {
		t.Errorf("normalize %v tarpit %v", f.NormalizeURI, f.TarpitTimeout)
	}
	if len(pc.Tables) != 2 || pc.Tables[0].Name != "www" || pc.Tables[1].Name != "abuse" || pc.Tables[1].Size != 100 {
		t.Errorf("tables %+v", pc.Tables)
	}
	if _, err := proxy.New(pc, proxy.Options{}); err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
}
