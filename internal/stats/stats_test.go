package stats

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

func testHandler(cfg config.Stats) http.Handler {
	return newHandler(cfg, sampleStatus, func() time.Time { return testNow })
}

func get(h http.Handler, target string, setup func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if setup != nil {
		setup(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAuth(t *testing.T) {
	h := testHandler(config.Stats{Enable: true, URI: "/", Auth: []string{"admin:SuperSecretPassword123", "ops:pa:ss"}})
	tests := []struct {
		name       string
		user, pass string
		basic      bool
		want       int
	}{
		{"no credentials", "", "", false, 401},
		{"wrong password", "admin", "nope", true, 401},
		{"password of another user", "ops", "SuperSecretPassword123", true, 401},
		{"unknown user", "root", "SuperSecretPassword123", true, 401},
		{"user name prefix", "adm", "SuperSecretPassword123", true, 401},
		{"first user", "admin", "SuperSecretPassword123", true, 200},
		{"second user, colon in password", "ops", "pa:ss", true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(h, "/", func(r *http.Request) {
				if tt.basic {
					r.SetBasicAuth(tt.user, tt.pass)
				}
			})
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 401 {
				if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="lbd statistics"` {
					t.Fatalf("WWW-Authenticate %q", got)
				}
				if strings.Contains(rec.Body.String(), "web01") {
					t.Fatal("401 body leaks the page")
				}
			}
		})
	}
}

func TestRealmAndNoAuth(t *testing.T) {
	h := testHandler(config.Stats{Enable: true, Realm: `Strictly\ Private "x"`, Auth: []string{"a:b"}})
	rec := get(h, "/lbd?stats", nil)
	if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="Strictly Private \"x\""` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	open := testHandler(config.Stats{Enable: true})
	if rec := get(open, "/lbd?stats", nil); rec.Code != 200 {
		t.Fatalf("no auth configured: status %d", rec.Code)
	}
}

func TestRouting(t *testing.T) {
	h := testHandler(config.Stats{Enable: true, URI: "/stats"})
	for target, want := range map[string]int{
		"/stats": 200, "/stats;csv": 200, "/stats/x": 200, "/": 404, "/stat": 404, "/other/stats": 404,
	} {
		if rec := get(h, target, nil); rec.Code != want {
			t.Errorf("GET %s: %d, want %d", target, rec.Code, want)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/stats", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 405 {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
	off := testHandler(config.Stats{Enable: false, URI: "/stats"})
	if rec := get(off, "/stats", nil); rec.Code != 404 {
		t.Errorf("disabled stats: %d, want 404", rec.Code)
	}
	if !Match(config.Stats{Enable: true}, httptest.NewRequest("GET", "/lbd?stats;csv", nil)) {
		t.Error("Match misses the default URI")
	}
	if Match(config.Stats{Enable: true}, httptest.NewRequest("GET", "/index.html", nil)) {
		t.Error("Match takes a normal request")
	}
}

func readCSV(t *testing.T, body string) (header []string, rows map[string][]string) {
	t.Helper()
	if !strings.HasPrefix(body, "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,") {
		t.Fatalf("CSV header: %.300q", body)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "# ")))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	header = recs[0]
	rows = map[string][]string{}
	for _, rec := range recs[1:] {
		if len(rec) != len(CSVColumns)+1 || rec[len(rec)-1] != "" {
			t.Fatalf("row %v has %d fields, want %d and a trailing comma", rec[:2], len(rec), len(CSVColumns)+1)
		}
		rows[rec[0]+"/"+rec[1]] = rec
	}
	return header, rows
}

func col(t *testing.T, row []string, name string) string {
	t.Helper()
	for i, c := range CSVColumns {
		if c == name {
			return row[i]
		}
	}
	t.Fatalf("no column %s", name)
	return ""
}

func TestCSV(t *testing.T) {
	h := testHandler(config.Stats{Enable: true, URI: "/", Auth: []string{"u:p"}})
	rec := get(h, "/;csv", func(r *http.Request) { r.SetBasicAuth("u", "p") })
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	header, rows := readCSV(t, rec.Body.String())
	if len(header) < 33 || header[32] != "type" || header[17] != "status" || header[38] != "check_duration" || header[58] != "qtime" || header[61] != "ttime" {
		t.Fatalf("columns out of HAProxy order: %v", header)
	}
	order := []string{"app/FRONTEND", "app/web01", "app/web02", "app/web03", "app/web04", "app/spare", "app/BACKEND", "db/<script>alert(1)</script>", "db/BACKEND"}
	if len(rows) != len(order) {
		t.Fatalf("got %d rows, want %d", len(rows), len(order))
	}
	body := rec.Body.String()
	last := 0
	for _, k := range order {
		name := strings.Replace(k, "/", ",", 1) + ","
		i := strings.Index(body, "\n"+name)
		if i < last {
			t.Fatalf("row %s out of order", k)
		}
		last = i
	}
	checks := []struct{ row, col, want string }{
		{"app/FRONTEND", "status", "OPEN"}, {"app/FRONTEND", "type", "0"}, {"app/FRONTEND", "scur", "12"},
		{"app/FRONTEND", "slim", "2000"}, {"app/FRONTEND", "stot", "15000"}, {"app/FRONTEND", "bout", "3221225472"},
		{"app/FRONTEND", "ereq", "2"}, {"app/FRONTEND", "dreq", "1"}, {"app/FRONTEND", "req_tot", "40000"},
		{"app/FRONTEND", "hrsp_5xx", "100"}, {"app/FRONTEND", "pid", "4321"}, {"app/FRONTEND", "iid", "1"},
		{"app/web01", "status", "UP"}, {"app/web01", "type", "2"}, {"app/web01", "check_status", "L7OK"},
		{"app/web01", "check_code", "200"}, {"app/web01", "check_duration", "3"}, {"app/web01", "lastchg", "7200"},
		{"app/web01", "slim", "100"}, {"app/web01", "sid", "1"}, {"app/web01", "iid", "1"}, {"app/web01", "addr", "192.168.10.3:80"},
		{"app/web02", "status", "DOWN"}, {"app/web02", "econ", "4"}, {"app/web02", "wretr", "6"}, {"app/web02", "wredis", "2"},
		{"app/web02", "downtime", "125"}, {"app/web02", "check_desc", "Connection refused"}, {"app/web02", "lastchg", "125"},
		{"app/web03", "status", "DRAIN"}, {"app/web04", "status", "MAINT"}, {"app/spare", "status", "no check"},
		{"app/spare", "act", "0"}, {"app/spare", "bck", "1"},
		{"app/BACKEND", "status", "UP"}, {"app/BACKEND", "type", "1"}, {"app/BACKEND", "act", "1"}, {"app/BACKEND", "bck", "1"},
		{"app/BACKEND", "weight", "2"}, {"app/BACKEND", "qcur", "1"}, {"app/BACKEND", "qmax", "9"}, {"app/BACKEND", "algo", "roundrobin"},
		{"app/BACKEND", "lastchg", "125"}, {"db/BACKEND", "iid", "2"}, {"db/BACKEND", "mode", "tcp"},
	}
	for _, c := range checks {
		if got := col(t, rows[c.row], c.col); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.row, c.col, got, c.want)
		}
	}
	// ;up hides servers that are not UP.
	_, up := readCSV(t, get(h, "/;csv;up", func(r *http.Request) { r.SetBasicAuth("u", "p") }).Body.String())
	if _, ok := up["app/web02"]; ok || up["app/web01"] == nil {
		t.Fatalf(";up kept a DOWN server or lost an UP one: %v", up)
	}
}

func TestCSVQuotesOddNames(t *testing.T) {
	st := control.Status{Backends: []control.BackendStatus{{Name: `a,b"c`, Servers: []control.ServerStatus{{Name: "x\ny", State: "UP"}}}}}
	var b strings.Builder
	if err := WriteCSV(&b, &st, testNow, false); err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, b.String())
	if rows[`a,b"c/x_y`] == nil || rows[`a,b"c/BACKEND`] == nil {
		t.Fatalf("odd names not round-tripped: %v", rows)
	}
}

func TestHTML(t *testing.T) {
	h := testHandler(config.Stats{Enable: true, Refresh: 10 * time.Second})
	rec := get(h, "/lbd?stats", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		`<tr class="server down checkfail" data-kind="server" data-name="web02">`,
		`<tr class="server up" data-kind="server" data-name="web01">`,
		`<tr class="server drain" data-kind="server" data-name="web03">`,
		`<tr class="server maint" data-kind="server" data-name="web04">`,
		`<td class="st">DOWN</td>`, `L4CON`, `L7OK/200 in 3ms`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		`class="card vrrp-master" data-instance="VI_1"`, `<span class="badge">MASTER</span>`, `10.10.0.100/24 (held here)`,
		`version 1.2.3`, `node <b>lb1</b>`, `up 1d2h`, `2 proxies, 6 servers, 1 down`,
		`href="/lbd?stats;csv"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Fatal("unescaped server name in page")
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "<link") || strings.Contains(body, "src=") {
		t.Fatal("page references an external asset")
	}
	if len(body) > 64<<10 {
		t.Fatalf("page is %d bytes", len(body))
	}

	hidden := testHandler(config.Stats{Enable: true, HideVersion: true})
	body = get(hidden, "/lbd?stats;norefresh;up", nil).Body.String()
	if strings.Contains(body, "1.2.3") {
		t.Error("hide_version leaks the version")
	}
	if strings.Contains(body, "http-equiv") {
		t.Error("refresh without stats refresh configured")
	}
	if strings.Contains(body, `data-name="web02"`) || !strings.Contains(body, `data-name="web01"`) {
		t.Error(";up did not filter the DOWN server")
	}
}

func TestHEAD(t *testing.T) {
	h := testHandler(config.Stats{Enable: true})
	req := httptest.NewRequest(http.MethodHead, "/lbd?stats", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if b, _ := io.ReadAll(rec.Body); rec.Code != 200 || len(b) != 0 {
		t.Fatalf("HEAD: %d with %d bytes", rec.Code, len(b))
	}
}

func TestServerStatusText(t *testing.T) {
	chk := func(h int) control.CheckStatus {
		return control.CheckStatus{Enabled: true, Health: h, Rise: 2, Fall: 3}
	}
	tests := []struct {
		s    control.ServerStatus
		want string
	}{
		{control.ServerStatus{State: "UP", Check: chk(4)}, "UP"},
		{control.ServerStatus{State: "UP", Check: chk(3)}, "UP 2/3"},
		{control.ServerStatus{State: "UP", Check: chk(2)}, "UP 1/3"},
		{control.ServerStatus{State: "DOWN", Check: chk(0)}, "DOWN"},
		{control.ServerStatus{State: "DOWN", Check: chk(1)}, "DOWN 1/2"},
		{control.ServerStatus{State: "up"}, "no check"},
		{control.ServerStatus{State: "MAINT", Check: chk(4)}, "MAINT"},
		{control.ServerStatus{State: "DRAIN", Check: chk(4)}, "DRAIN"},
		{control.ServerStatus{}, "UNKNOWN"},
	}
	for _, tt := range tests {
		if got := ServerStatusText(tt.s); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m1s", 3*time.Hour + 5*time.Minute: "3h5m",
		50 * time.Hour: "2d2h", -time.Second: "0s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
	if humanBytes(1536) != "1.5 KiB" || humanBytes(10) != "10 B" {
		t.Error("humanBytes")
	}
}
