package proxy

import (
	"io"
	"net"
	"testing"
	"time"
)

// tableKeys returns the keys of a stick table.
func tableKeys(t *testing.T, e *Engine, name string) map[string]bool {
	t.Helper()
	ts, err := e.Table(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, en := range ts.Entries {
		keys[en.Key] = true
	}
	return keys
}

// TestAcceptProxyRulesSrc: behind accept_proxy, tcp-request connection
// rules see the peer's address (they run before the header is read, as in
// HAProxy), while http-request rules and their track-sc src key see the
// header's client address.
func TestAcceptProxyRulesSrc(t *testing.T) {
	addr, _, e := rulesEngine(t, []HTTPRule{
		{Action: "track-sc0", Key: "src", Table: "clients"},
		{Action: "deny", Status: 429, If: "{ src 192.0.2.66 }"},
	}, func(c *Config) {
		c.Tables = []StickTable{
			{Name: "clients", Size: 100, Expire: time.Minute, Store: []string{"http_req_cnt"}},
			{Name: "peers", Size: 100, Expire: time.Minute, Store: []string{"conn_cnt"}},
		}
		c.Frontends[0].AcceptProxy = &AcceptProxy{}
		c.Frontends[0].TCPConnectionRules = []TCPRule{
			// The header's address: must not match here.
			{Action: "reject", If: "{ src 192.0.2.0/24 }"},
			{Action: "track-sc1", Key: "src", Table: "peers"},
		}
	})
	rc := dialRaw(t, addr)
	rc.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := rc.resp("GET"); res.StatusCode != 200 {
		t.Fatalf("status %d, want 200 (connection rules must not see the header's address)", res.StatusCode)
	}
	rc2 := dialRaw(t, addr)
	rc2.send("PROXY TCP4 192.0.2.66 198.51.100.1 40001 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := rc2.resp("GET"); res.StatusCode != 429 {
		t.Fatalf("status %d, want 429 (http-request src is the header's)", res.StatusCode)
	}
	if k := tableKeys(t, e, "clients"); len(k) != 2 || !k["192.0.2.7"] || !k["192.0.2.66"] {
		t.Errorf("http-request track-sc0 src keys %v, want the header's addresses", k)
	}
	if k := tableKeys(t, e, "peers"); len(k) != 1 || !k["127.0.0.1"] {
		t.Errorf("tcp-request connection track-sc1 src keys %v, want the peer's 127.0.0.1", k)
	}
	if n := e.Frontends()[0].DeniedConn; n != 0 {
		t.Errorf("DeniedConn = %d, want 0", n)
	}
}

// TestAcceptProxyTCPContentSrc: in mode tcp, tcp-request content rules
// track the header's client address.
func TestAcceptProxyTCPContentSrc(t *testing.T) {
	ln := serveLoopback(t, func(c net.Conn) { io.Copy(c, c) })
	cfg := testConfig(srv("db", ln.Addr().String()))
	cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
	cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
	cfg.Tables = []StickTable{{Name: "fe", Size: 10, Expire: time.Minute, Store: []string{"conn_cnt"}}}
	cfg.Frontends[0].TCPContentRules = []TCPRule{{Action: "track-sc0", Key: "src"}}
	e, addr, _ := startEngine(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PROXY TCP4 192.0.2.8 198.51.100.1 40000 3306\r\nping")
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if k := tableKeys(t, e, "fe"); len(k) != 1 || !k["192.0.2.8"] {
		t.Errorf("tcp-request content track-sc0 src keys %v, want 192.0.2.8", k)
	}
}

// TestRedirectBothForms: a frontend `redirects:` entry and an http-request
// redirect rule with the same scheme and code answer byte for byte the
// same (one implementation); redirects run after the http-request rules;
// a request without Host is answered 400 by both.
func TestRedirectBothForms(t *testing.T) {
	heads := map[string]string{}
	for _, form := range []string{"redirects", "http_request"} {
		addr, _, _ := rulesEngine(t, nil, func(c *Config) {
			fe := &c.Frontends[0]
			if form == "redirects" {
				fe.Redirects = []Redirect{{Scheme: "https", Code: 301, Unless: "{ path_beg /keep }"}}
				// An http-request rule answers first.
				fe.HTTPRequestRules = []HTTPRule{{Action: "return", Status: 204, If: "{ path_beg /rule }"}}
			} else {
				fe.HTTPRequestRules = []HTTPRule{
					{Action: "return", Status: 204, If: "{ path_beg /rule }"},
					{Action: "redirect", Scheme: "https", Status: 301, Unless: "{ path_beg /keep }"},
				}
			}
		})
		rc := dialRaw(t, addr)
		rc.send("GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n")
		heads[form] = rc.rawHead()
		if res, _ := rc.get("/keep"); res.StatusCode != 200 {
			t.Errorf("%s: /keep: %d", form, res.StatusCode)
		}
		if res, _ := rc.get("/rule"); res.StatusCode != 204 {
			t.Errorf("%s: /rule: %d (http-request rules first)", form, res.StatusCode)
		}
		rc2 := dialRaw(t, addr)
		rc2.send("GET / HTTP/1.0\r\n\r\n")
		if res, _ := rc2.resp("GET"); res.StatusCode != 400 {
			t.Errorf("%s: no Host: %d, want 400", form, res.StatusCode)
		}
	}
	if heads["redirects"] != heads["http_request"] {
		t.Errorf("the two forms differ:\n%q\n%q", heads["redirects"], heads["http_request"])
	}
	if want := "HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\nLocation: https://example.test/a/b?x=1\r\n"; len(heads["redirects"]) < len(want) || heads["redirects"][:len(want)] != want {
		t.Errorf("head %q", heads["redirects"])
	}
}
