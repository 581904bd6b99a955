package stats

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

// The browser test drives headless Chromium through chromedriver's W3C
// WebDriver HTTP API (no Go module needed). Set LBD_STATS_SCREENSHOT to a
// path to keep the screenshot, e.g. for docs/img/stats.png:
//
//	LBD_STATS_SCREENSHOT=$PWD/docs/img/stats.png go test -run Browser ./internal/stats

const chromiumRemedy = "needs chromium and chromedriver: run `scripts/need.sh chromium:chromium chromedriver:chromium-driver` as root (or apt-get install chromium chromium-driver)"

func lookTools(t *testing.T) (chromium, driver string) {
	t.Helper()
	var err1, err2 error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if chromium, err1 = exec.LookPath(name); err1 == nil {
			break
		}
	}
	driver, err2 = exec.LookPath("chromedriver")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser test %s", chromiumRemedy)
		}
		t.Skipf("browser test %s", chromiumRemedy)
	}
	return chromium, driver
}

type webDriver struct {
	t       *testing.T
	ctx     context.Context
	base    string
	session string
}

func (d *webDriver) call(method, path string, body any) json.RawMessage {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			d.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.base+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		d.t.Fatalf("webdriver %s %s: read: %v", method, path, err)
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || resp.StatusCode != 200 {
		d.t.Fatalf("webdriver %s %s: HTTP %d: %.500s", method, path, resp.StatusCode, raw)
	}
	return env.Value
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startDriver(t *testing.T, ctx context.Context, chromium, driver string) *webDriver {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() {
		// chromedriver and the browsers it started share its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	d := &webDriver{t: t, ctx: ctx, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for i := 0; ; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/status", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 || ctx.Err() != nil {
			t.Fatalf("chromedriver did not start: %s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	profile := t.TempDir()
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": []string{
				"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--no-first-run", "--user-data-dir=" + profile, "--window-size=1280,800",
			},
		},
	}}}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(d.call(http.MethodPost, "/session", caps), &s); err != nil || s.SessionID == "" {
		t.Fatalf("new webdriver session: %v", err)
	}
	d.session = "/session/" + s.SessionID
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, d.base+d.session, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return d
}

type renderedRow struct {
	Name, Class, Status, Kind string
	Background, Color         string
}

const inspectScript = `
const rows = [...document.querySelectorAll('tbody tr')].map(r => ({
  Name: r.querySelector('td').textContent,
  Class: r.className,
  Kind: r.dataset.kind,
  Status: r.querySelector('td.st').textContent,
  Background: getComputedStyle(r.querySelector('td')).backgroundColor,
  Color: getComputedStyle(r.querySelector('td.st')).color,
}));
const badge = document.querySelector('.card .badge');
return {rows: rows, vrrp: badge ? badge.textContent : '', summary: document.getElementById('summary').textContent,
  scripts: document.scripts.length, vrrpTop: document.getElementById('vrrp').getBoundingClientRect().top <
    document.querySelector('section.px').getBoundingClientRect().top};`

func TestBrowserStatsPage(t *testing.T) {
	chromium, driver := lookTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The screenshot page gets tidy names; a second page checks that a
	// hostile server name renders as text.
	clean := func() control.Status {
		st := sampleStatus()
		st.Backends[1].Servers[0].Name = "pg01"
		return st
	}
	srv := httptest.NewServer(newHandler(config.Stats{Enable: true, URI: "/"}, clean, func() time.Time { return testNow }))
	defer srv.Close()
	hostile := httptest.NewServer(newHandler(config.Stats{Enable: true, URI: "/"}, sampleStatus, func() time.Time { return testNow }))
	defer hostile.Close()

	d := startDriver(t, ctx, chromium, driver)
	// Size the window so the viewport (and the screenshot) is 1280x800.
	d.call(http.MethodPost, d.session+"/window/rect", map[string]int{"width": 1280, "height": 800})
	var inner []int
	if err := json.Unmarshal(d.call(http.MethodPost, d.session+"/execute/sync", map[string]any{"script": "return [window.outerHeight - window.innerHeight]", "args": []any{}}), &inner); err == nil && len(inner) == 1 && inner[0] > 0 && inner[0] < 400 {
		d.call(http.MethodPost, d.session+"/window/rect", map[string]int{"width": 1280, "height": 800 + inner[0]})
	}
	d.call(http.MethodPost, d.session+"/url", map[string]string{"url": srv.URL + "/"})
	got := inspect(t, d)
	rows := map[string]renderedRow{}
	for _, r := range got.Rows {
		rows[r.Name] = r
	}
	if len(got.Rows) != 9 {
		t.Errorf("rendered %d rows, want 9: %+v", len(got.Rows), got.Rows)
	}
	want := []struct{ name, status, bg, color string }{
		{"web01", "UP", "rgb(223, 243, 228)", "rgb(27, 127, 59)"},
		{"web02", "DOWN", "rgb(249, 214, 211)", "rgb(179, 38, 30)"},
		{"web03", "DRAIN", "rgb(255, 240, 194)", "rgb(154, 103, 0)"},
		{"web04", "MAINT", "rgb(230, 230, 230)", "rgb(95, 99, 104)"},
		{"pg01", "UP 2/3", "rgb(223, 243, 228)", "rgb(27, 127, 59)"},
	}
	for _, w := range want {
		r, ok := rows[w.name]
		if !ok {
			t.Errorf("row %q not rendered", w.name)
			continue
		}
		if r.Status != w.status || r.Background != w.bg || r.Color != w.color {
			t.Errorf("row %q: status %q background %s colour %s; want %q %s %s", w.name, r.Status, r.Background, r.Color, w.status, w.bg, w.color)
		}
	}
	if got.VRRP != "MASTER" || !got.VRRPTop {
		t.Errorf("VRRP badge %q, on top %v", got.VRRP, got.VRRPTop)
	}
	if got.Summary != "2 proxies, 6 servers, 1 down" {
		t.Errorf("summary %q", got.Summary)
	}

	var b64 string
	if err := json.Unmarshal(d.call(http.MethodGet, d.session+"/screenshot", nil), &b64); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%v)", err)
	}
	out := filepath.Join(t.TempDir(), "stats.png")
	if p := os.Getenv("LBD_STATS_SCREENSHOT"); p != "" {
		out = p
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))

	d.call(http.MethodPost, d.session+"/url", map[string]string{"url": hostile.URL + "/"})
	got = inspect(t, d)
	found := false
	for _, r := range got.Rows {
		found = found || r.Name == "<script>alert(1)</script>"
	}
	if !found || got.Scripts != 0 {
		t.Errorf("hostile server name: shown as text %v, scripts on page %d", found, got.Scripts)
	}
}

type inspection struct {
	Rows    []renderedRow
	VRRP    string
	Summary string
	Scripts int
	VRRPTop bool
}

func inspect(t *testing.T, d *webDriver) inspection {
	t.Helper()
	var got inspection
	if err := json.Unmarshal(d.call(http.MethodPost, d.session+"/execute/sync", map[string]any{"script": inspectScript, "args": []any{}}), &got); err != nil {
		t.Fatalf("decode inspection: %v", err)
	}
	return got
}
