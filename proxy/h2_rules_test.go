package proxy

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// h2Get sends one request on an HTTP/2 client (the path as is: no
// normalisation by the client) and returns the response and its body.
func h2Get(t *testing.T, cl *http.Client, host, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+host+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("GET %s: proto %d", path, res.ProtoMajor)
	}
	return res, string(b)
}

// TestH2Rules: the http-request and http-response rules run on every
// HTTP/2 stream as on HTTP/1.1 requests; their answers go out on the
// stream, and the connection carries the next streams.
func TestH2Rules(t *testing.T) {
	be := newBackend(t, "s1", nil)
	cfg := h2Config(srv("s1", be.addr()))
	fe := &cfg.Frontends[0]
	fe.HTTPRequestRules = []HTTPRule{
		{Action: "deny", If: "{ path_beg /admin }"},
		{Action: "return", Status: 200, ContentType: "text/plain", Body: "healthy\n", If: "{ path /healthz }"},
		{Action: "redirect", Location: "https://example.com/new", Status: 301, If: "{ path /old }"},
		{Action: "auth", Realm: "private", Users: []string{"alice:s3cret"}, If: "{ path_beg /private }"},
		{Action: "tarpit", If: "{ path_beg /wp-login }"},
		{Action: "track-sc0", Key: "src", Table: "per_client", If: "{ path_beg /limited }"},
		{Action: "deny", Status: 429, If: "{ path_beg /limited } { sc_http_req_rate(0) gt 5 }"},
	}
	fe.HTTPResponseRules = []HTTPRule{{Action: "set-header", Name: "Strict-Transport-Security", Value: "max-age=31536000"}}
	fe.TarpitTimeout = 200 * time.Millisecond
	cfg.Tables = []StickTable{{Name: "per_client", Size: 100, Expire: time.Minute, Store: []string{"http_req_rate(10s)", "conn_cur"}}}
	e, addr, sink := startEngine(t, cfg)
	cl, _ := h2Client(t, addr)
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	res, _ := h2Get(t, cl, addr, "/")
	if res.StatusCode != 200 || res.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("/: %d %v", res.StatusCode, res.Header)
	}
	for _, p := range []string{"/admin", "/%61dmin", "/x/%2e%2e/admin", "/x/../admin", "/./admin"} {
		if res, _ := h2Get(t, cl, addr, p); res.StatusCode != 403 {
			t.Errorf("%s: %d, want 403", p, res.StatusCode)
		}
	}
	if r := sink.last(t); r.Status != 403 || r.Termination[:2] != "PR" || !strings.HasSuffix(r.RequestLine, " HTTP/2.0") {
		t.Errorf("deny log: %+v", r)
	}
	res, body := h2Get(t, cl, addr, "/healthz")
	if res.StatusCode != 200 || body != "healthy\n" || res.Header.Get("Content-Type") != "text/plain" || res.Header.Get("Connection") != "" {
		t.Fatalf("return: %d %q %v", res.StatusCode, body, res.Header)
	}
	res, _ = h2Get(t, cl, addr, "/old")
	if res.StatusCode != 301 || res.Header.Get("Location") != "https://example.com/new" {
		t.Fatalf("redirect: %d %v", res.StatusCode, res.Header)
	}
	res, _ = h2Get(t, cl, addr, "/private/x")
	if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `realm="private"`) {
		t.Fatalf("auth: %d %v", res.StatusCode, res.Header)
	}
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	if res, _ := h2Get(t, cl, addr, "/private/x", "Authorization", good); res.StatusCode != 200 {
		t.Fatalf("auth with credentials: %d", res.StatusCode)
	}

	t0 := time.Now()
	if res, _ := h2Get(t, cl, addr, "/wp-login.php"); res.StatusCode != 500 || time.Since(t0) < 150*time.Millisecond {
		t.Fatalf("tarpit: %d after %v", res.StatusCode, time.Since(t0))
	}

	// The rate limit counts the streams of one connection.
	for i := 1; i <= 8; i++ {
		res, _ := h2Get(t, cl, addr, fmt.Sprintf("/limited/%d", i))
		want := 200
		if i > 5 {
			want = 429
		}
		if res.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, res.StatusCode, want)
		}
	}
	// Still the same connection after the 429s.
	if res, _ := h2Get(t, cl, addr, "/"); res.StatusCode != 200 {
		t.Fatalf("after 429: %d", res.StatusCode)
	}
	ts, err := e.Table("per_client", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Entries) != 1 || ts.Entries[0].Counters["http_req_rate"] != 8 || ts.Entries[0].Counters["conn_cur"] != 0 {
		t.Fatalf("table: %+v", ts)
	}
	if n := len(be.requests()); n != 5+1+1+1 {
		t.Errorf("backend saw %d requests, want 8 (denied streams are not forwarded)", n)
	}
}

// TestH2TLSConnTrackers: the trackers of tcp-request connection rules are
// seen by the streams of a TLS connection handed to HTTP/2 and released
// when it ends.
func TestH2TLSConnTrackers(t *testing.T) {
	be := newBackend(t, "s1", nil)
	cfg, addr := h2TLSConfig(t, srv("s1", be.addr()))
	fe := &cfg.Frontends[0]
	cfg.Tables = []StickTable{{Name: "conns", Size: 100, Expire: time.Minute, Store: []string{"conn_cur", "conn_cnt"}}}
	fe.TCPConnectionRules = []TCPRule{{Action: "track-sc1", Key: "src", Table: "conns"}}
	fe.HTTPRequestRules = []HTTPRule{{Action: "deny", Status: 429, If: "{ sc1_conn_cur gt 1 }"}}
	e, _, _ := startEngine(t, cfg)
	cl := h2TLSClient(t, addr, "a.test")
	res, err := cl.Get("https://a.test/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("first: %d proto %d", res.StatusCode, res.ProtoMajor)
	}
	cl2 := h2TLSClient(t, addr, "a.test")
	res, err = cl2.Get("https://a.test/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 429 {
		t.Fatalf("second connection: %d, want 429 (sc1_conn_cur 2)", res.StatusCode)
	}
	cl.CloseIdleConnections()
	cl2.CloseIdleConnections()
	cl.Transport.(interface{ Close() error }).Close()
	cl2.Transport.(interface{ Close() error }).Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts, err := e.Table("conns", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts.Entries) == 1 && ts.Entries[0].Counters["conn_cur"] == 0 && ts.Entries[0].Refs == 0 {
			if ts.Entries[0].Counters["conn_cnt"] != 2 {
				t.Fatalf("conn_cnt: %+v", ts.Entries[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trackers not released: %+v", ts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
