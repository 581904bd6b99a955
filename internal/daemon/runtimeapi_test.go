package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/stats"
)

// These tests drive lbd's runtime API (HAProxy's stats socket commands on
// the control socket) with the real clients: socat, hatop, Ansible's
// haproxy module, prometheus-haproxy-exporter, and halog on the access log.

// needTool returns the path of a client, or skips (fails with CI=true).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if _, e := os.Stat("/usr/sbin/" + name); e == nil { // haproxy, halog
			return "/usr/sbin/" + name
		}
		msg := fmt.Sprintf("%s not found: apt-get install %s (or make test-tools)", name, pkg)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true, so this is a failure, not a skip)")
		}
		t.Skip(msg)
	}
	return p
}

const runtimeConfig = `global:
  control_socket: %SOCK%
  runtime_api: {level: admin}
  log: [{address: "%SYSLOG%"}]
sysctl:
  apply: false
defaults:
  mode: http
  log: global
  options: {httplog: true, http_server_close: true}
frontends:
  - name: fe
    bind: ["%FRONT%"]
    default_backend: be
backends:
  - name: be
    balance: roundrobin
    servers:
      - {name: web01, address: "%B1%"}
      - {name: web02, address: "%B2%", weight: 50}
`

// The same proxies for HAProxy, to compare outputs.
const haproxyConfig = `global
    stats socket %SOCK% mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %FRONT%
    default_backend be
backend be
    balance roundrobin
    server web01 %B1%
    server web02 %B2% weight 50
`

type runtimeLab struct {
	td      *testDaemon
	sock    string
	front   string
	b1, b2  *countingBackend
	syslog  *syslogSink
	haproxy string // HAProxy's socket; "" when not started
}

// syslogSink collects the access-log datagrams lbd sends.
type syslogSink struct {
	pc    net.PacketConn
	mu    sync.Mutex
	lines []string
}

func newSyslogSink(t *testing.T) *syslogSink {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogSink{pc: pc}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.lines = append(s.lines, strings.TrimRight(string(buf[:n]), "\n"))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return s
}

func (s *syslogSink) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func startRuntimeLab(t *testing.T) *runtimeLab {
	t.Helper()
	lab := &runtimeLab{b1: newBackend(t, "web01"), b2: newBackend(t, "web02"), front: freeAddr(t), syslog: newSyslogSink(t)}
	cfg := strings.NewReplacer("%FRONT%", lab.front, "%SYSLOG%", lab.syslog.pc.LocalAddr().String(),
		"%B1%", lab.b1.srv.Listener.Addr().String(), "%B2%", lab.b2.srv.Listener.Addr().String()).Replace(runtimeConfig)
	lab.td = startDaemon(t, cfg)
	lab.sock = lab.td.sock
	return lab
}

// startHAProxy runs the real HAProxy with the same proxies (its frontend on
// another port) and returns its stats socket.
func (lab *runtimeLab) startHAProxy(t *testing.T) string {
	t.Helper()
	bin := needTool(t, "haproxy", "haproxy")
	dir := t.TempDir()
	sock := filepath.Join(dir, "haproxy.sock")
	cfg := strings.NewReplacer("%SOCK%", sock, "%FRONT%", freeAddr(t),
		"%B1%", lab.b1.srv.Listener.Addr().String(), "%B2%", lab.b2.srv.Listener.Addr().String()).Replace(haproxyConfig)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", path, "-db")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not come up: %s", stderr.String())
		}
	}
	lab.haproxy = sock
	return sock
}

// socat runs `echo cmd | socat stdio unix-connect:sock`.
func socat(t *testing.T, sock, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "socat", "stdio", "unix-connect:"+sock)
	c.Stdin = strings.NewReader(cmd + "\n")
	out, err := c.Output()
	if err != nil {
		t.Fatalf("socat %q: %v", cmd, err)
	}
	return string(out)
}

// TestRuntimeAPISocatLikeHAProxy sends socat one-liners for each command
// to lbd and to HAProxy with the same config: deterministic answers must be
// the same bytes; CSV and state dumps the same values where both have them.
func TestRuntimeAPISocatLikeHAProxy(t *testing.T) {
	needTool(t, "socat", "socat")
	lab := startRuntimeLab(t)
	hsock := lab.startHAProxy(t)
	same := func(cmd string) {
		t.Helper()
		l, h := socat(t, lab.sock, cmd), socat(t, hsock, cmd)
		if l != h {
			t.Errorf("%q:\nlbd:     %q\nhaproxy: %q", cmd, l, h)
		}
	}
	for _, cmd := range []string{
		"show backend", "get weight be/web01", "get weight be/web02", "get weight be/nope", "get weight nope/web01",
		"get weight", "disable server be", "disable server be/nope", "enable server nope/web01",
		"set server be/web01 state foo", "set server be/web01 state", "set server be/web01 weight 300",
		"set server be/web01 weight abc", "set server be/web01 weight", "set weight be/web01", "set weight be/web01 -1",
		"show servers state nope", "show stat nope 4 -1", "disable frontend", "enable frontend nope",
		"show cli level", "set timeout cli abc", "set timeout cli 5", "quit",
		"enable health be/web01", "disable health be/web01", "disable health be/nope",
		"show backend;get weight be/web02", "get weight be/web01;get weight be/nope",
		// changes, then their effect
		"set weight be/web02 50%", "get weight be/web02", "set server be/web02 weight 50", "get weight be/web02",
		"disable server be/web01", "get weight be/web01", "enable server be/web01",
		"set server be/web01 state drain", "set server be/web01 state ready",
		"disable frontend fe", "disable frontend fe", "enable frontend fe", "enable frontend fe",
	} {
		same(cmd)
	}
	// Interactive mode framing.
	same("prompt\nshow backend\nget weight be/web02\nquit")

	// Commands whose answers carry values only one side has: same frame.
	for _, cmd := range []string{"help", "show info", "show errors", "show stat", "show servers state", "foo"} {
		l, h := socat(t, lab.sock, cmd), socat(t, hsock, cmd)
		lf, _, _ := strings.Cut(l, "\n")
		hf, _, _ := strings.Cut(h, "\n")
		if cmd == "show info" || cmd == "show errors" {
			lf, hf = strings.SplitN(lf, ":", 2)[0], strings.SplitN(hf, ":", 2)[0]
		}
		if cmd == "show stat" { // lbd's columns are HAProxy's first 77
			hf = hf[:len(lf)]
		}
		if lf != hf || !strings.HasSuffix(l, "\n\n") {
			t.Errorf("%q: first lines differ or no blank line at the end:\nlbd:     %q\nhaproxy: %q", cmd, lf, hf)
		}
	}

	// show info: every key lbd prints is one of HAProxy's, in its order.
	hkeys := infoKeys(socat(t, hsock, "show info"))
	pos := map[string]int{}
	for i, k := range hkeys {
		pos[k] = i
	}
	last := -1
	for _, k := range infoKeys(socat(t, lab.sock, "show info")) {
		p, ok := pos[k]
		if !ok || p < last {
			t.Errorf("show info key %q is not HAProxy's or out of its order", k)
		}
		last = p
	}

	// show stat: same values in the columns tools read, MAINT included.
	socat(t, lab.sock, "disable server be/web01")
	socat(t, hsock, "disable server be/web01")
	cols := []int{0, 1, 2, 3, 4, 5, 7, 17, 18, 19, 20, 32, 73, 75, 76}
	lrows, hrows := csvRows(socat(t, lab.sock, "show stat")), csvRows(socat(t, hsock, "show stat"))
	if len(lrows) != len(hrows) {
		t.Fatalf("show stat: %d rows from lbd, %d from haproxy", len(lrows), len(hrows))
	}
	for i := range lrows {
		for _, c := range cols {
			if lrows[i][c] != hrows[i][c] {
				t.Errorf("show stat row %s/%s column %d: lbd %q haproxy %q", lrows[i][0], lrows[i][1], c, lrows[i][c], hrows[i][c])
			}
		}
	}
	// show servers state: same fields but ids, timing and check details.
	ls, hs := stateRows(socat(t, lab.sock, "show servers state be")), stateRows(socat(t, hsock, "show servers state be"))
	if len(ls) != 2 || len(hs) != 2 {
		t.Fatalf("show servers state: %q vs %q", ls, hs)
	}
	for i := range ls {
		for _, c := range []int{1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24} {
			if ls[i][c] != hs[i][c] {
				t.Errorf("show servers state %s field %d: lbd %q haproxy %q", ls[i][3], c, ls[i][c], hs[i][c])
			}
		}
	}
	// show stat typed: same tags, types and values for those fields.
	typed := func(out string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if f := strings.SplitN(k, ".", 5); ok && len(f) == 5 {
				m[f[0]+"."+f[3]+"."+f[4]] = v // kind.pos.name.process, iid left out
			}
		}
		return m
	}
	lt, ht := typed(socat(t, lab.sock, "show stat be 4 1 typed")), typed(socat(t, hsock, "show stat be 4 1 typed"))
	for _, c := range cols {
		k := fmt.Sprintf("S.%d.%s.1", c, stats.CSVColumns[c])
		if lt[k] != ht[k] {
			t.Errorf("show stat typed %s: lbd %q haproxy %q", k, lt[k], ht[k])
		}
	}
	if len(lt) < 20 || lt["S.17.status.1"] != "SGP:str:MAINT" {
		t.Errorf("show stat typed from lbd: %v", lt)
	}
	if out := socat(t, lab.sock, "show sess"); !strings.HasPrefix(out, "fe=fe mode=http ") || !strings.HasSuffix(out, "\n\n") {
		t.Errorf("show sess: %q", out)
	}
	// The change went through the daemon as lbctl's would.
	st, err := (&control.Client{Socket: lab.sock}).Status(context.Background())
	if err != nil || st.Backends[0].Servers[0].State != "MAINT" {
		t.Fatalf("lbctl status after disable server: %v %v", err, st.Backends)
	}
}

func infoKeys(s string) []string {
	var keys []string
	for _, l := range strings.Split(s, "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func csvRows(s string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(s, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		rows = append(rows, strings.Split(l, ","))
	}
	return rows
}

func stateRows(s string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) >= 25 && f[0] != "#" {
			rows = append(rows, f)
		}
	}
	return rows
}

// TestRuntimeAPIExporter scrapes lbd with prometheus-haproxy-exporter in
// unix: mode.
func TestRuntimeAPIExporter(t *testing.T) {
	bin := needTool(t, "prometheus-haproxy-exporter", "prometheus-haproxy-exporter")
	lab := startRuntimeLab(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--haproxy.scrape-uri=unix:"+lab.sock, "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	var body string
	hc := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := hc.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not answer: %v", err)
		}
	}
	for _, want := range []string{
		"\nhaproxy_up 1\n",
		`haproxy_server_up{backend="be",server="web01"} 1`,
		`haproxy_server_weight{backend="be",server="web02"} 50`,
		`haproxy_backend_up{backend="be"} 1`,
		`haproxy_frontend_limit_sessions{frontend="fe"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestRuntimeAPIAnsible runs a playbook with community.general.haproxy:
// disable web01, check that no new request reaches it, enable it again.
func TestRuntimeAPIAnsible(t *testing.T) {
	bin := needTool(t, "ansible-playbook", "ansible")
	needTool(t, "curl", "curl")
	lab := startRuntimeLab(t)
	dir := t.TempDir()
	pb := fmt.Sprintf(`- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: take web01 out
      community.general.haproxy: {state: disabled, host: web01, backend: be, socket: %[1]s, wait: true, wait_interval: 1, wait_retries: 5}
    - name: send requests
      ansible.builtin.command: sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do curl -sS --max-time 5 http://%[2]s/; echo; done'
      register: during
    - name: none reached web01
      ansible.builtin.assert:
        that: ["'served by web01' not in during.stdout", "during.stdout_lines | length == 10", "'served by web02' in during.stdout"]
    - name: put web01 back
      community.general.haproxy: {state: enabled, host: web01, backend: be, socket: %[1]s}
    - name: drain web02
      community.general.haproxy: {state: drain, host: web02, backend: be, socket: %[1]s, wait: true, wait_interval: 1, wait_retries: 5}
    - name: put web02 back
      community.general.haproxy: {state: enabled, host: web02, backend: be, socket: %[1]s}
`, lab.sock, lab.front)
	path := filepath.Join(dir, "pb.yml")
	if err := os.WriteFile(path, []byte(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-i", "localhost,", path)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP="+dir, "ANSIBLE_HOME="+dir, "ANSIBLE_RETRY_FILES_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("playbook: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "failed=0") {
		t.Fatalf("playbook:\n%s", out)
	}
	// The module drains only when show info's version says 1.5 or later.
	if !regexp.MustCompile(`TASK \[drain web02\][^\n]*\n+changed:`).Match(out) {
		t.Errorf("the drain task changed nothing:\n%s", out)
	}
	hits := lab.b1.hits.Load()
	st, err := (&control.Client{Socket: lab.sock}).Status(context.Background())
	if err != nil || st.Backends[0].Servers[0].State != "UP" {
		t.Fatalf("web01 after the playbook: %v %+v", err, st.Backends[0].Servers[0])
	}
	for i := 0; i < 52; i++ { // weights 1:50
		rawGet(t, lab.front)
	}
	if lab.b1.hits.Load() == hits {
		t.Error("web01 gets no request after the playbook enabled it")
	}
}

// rawGet sends one request on a new connection and returns the body; it
// never retries.
func rawGet(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: lbd\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// TestRuntimeAPIHatop drives hatop in tmux: it lists the servers, and F10
// on web01 puts it in maintenance, F9 takes it out.
func TestRuntimeAPIHatop(t *testing.T) {
	needTool(t, "hatop", "hatop")
	tmux := needTool(t, "tmux", "tmux")
	lab := startRuntimeLab(t)
	srv := fmt.Sprintf("lbdtest%d", os.Getpid())
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tmux, append([]string{"-L", srv}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v %s", args, err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-s", "h", "-x", "160", "-y", "40", "hatop -s "+lab.sock+" -i 1")
	t.Cleanup(func() { exec.Command(tmux, "-L", srv, "kill-server").Run() })
	screen := func() string { return run("capture-pane", "-p", "-t", "h") }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("hatop: no %s; screen:\n%s", what, screen())
			}
		}
	}
	waitFor("server list", func() bool {
		s := screen()
		return strings.Contains(s, "web01") && strings.Contains(s, "web02") && strings.Contains(s, "BACKEND")
	})
	// Move the cursor to web01: the footer then names it [#iid/#1].
	cursor := regexp.MustCompile(`\[#2/#1\]`)
	for i := 0; i < 10 && !cursor.MatchString(screen()); i++ {
		run("send-keys", "-t", "h", "Down")
		time.Sleep(150 * time.Millisecond)
	}
	if !cursor.MatchString(screen()) {
		t.Fatalf("hatop: cursor never reached web01:\n%s", screen())
	}
	state := func() string {
		st, err := (&control.Client{Socket: lab.sock}).Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.Backends[0].Servers[0].State
	}
	run("send-keys", "-t", "h", "F10")
	waitFor("MAINT after F10", func() bool { return state() == "MAINT" })
	waitFor("MAINT on screen", func() bool { return regexp.MustCompile(`web01\s+\d+\s+MAINT`).MatchString(screen()) })
	run("send-keys", "-t", "h", "F9")
	waitFor("UP after F9", func() bool { return state() == "UP" })
}

// TestRuntimeAPIHalog: halog -srv on lbd's access log counts the same
// requests per server as lbd's stats.
func TestRuntimeAPIHalog(t *testing.T) {
	bin := needTool(t, "halog", "haproxy")
	lab := startRuntimeLab(t)
	// Even weights, so both servers get requests to count.
	c, err := net.Dial("unix", lab.sock)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "set weight be/web02 1\n")
	if b, _ := io.ReadAll(c); string(b) != "\n" {
		t.Fatalf("set weight: %q", b)
	}
	c.Close()
	const n = 30
	for i := 0; i < n; i++ {
		rawGet(t, lab.front)
	}
	// Wait for the datagrams (sent once a request is done), then for the
	// counters, and write the lines as rsyslog does (no <PRI>, the host
	// name after the time stamp).
	var lines []string // access lines only: event lines go to syslog too
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines = lines[:0]
		for _, l := range lab.syslog.snapshot() {
			if strings.Contains(l, "] fe be/") {
				lines = append(lines, l)
			}
		}
		if len(lines) >= n || time.Now().After(deadline) {
			break
		}
	}
	want := map[string]uint64{}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := (&control.Client{Socket: lab.sock}).Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for _, s := range st.Backends[0].Servers {
			want[s.Name] = s.Total
			sum += s.Total
		}
		if sum >= n || time.Now().After(deadline) {
			break
		}
	}
	pri := regexp.MustCompile(`^<\d+>`)
	var file bytes.Buffer
	for _, l := range lines {
		l = pri.ReplaceAllString(l, "")
		if len(l) > 16 {
			l = l[:15] + " lb1" + l[15:]
		}
		file.WriteString(l + "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-srv", "-H", "-q")
	cmd.Stdin = &file
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("halog: %v", err)
	}
	got := map[string]uint64{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 || strings.HasPrefix(l, "#") {
			continue
		}
		v, _ := strconv.ParseUint(f[7], 10, 64)
		got[strings.TrimPrefix(f[0], "be/")] = v
	}
	t.Logf("halog -srv: %v; lbd: %v", got, want)
	if got["web01"] == 0 || got["web02"] == 0 || got["web01"]+got["web02"] != n || got["web01"] != want["web01"] || got["web02"] != want["web02"] {
		t.Fatalf("halog per server %v, lbd stats %v (of %d requests); halog said:\n%s\nlog:\n%s", got, want, n, out, file.String())
	}
}

// TestRuntimeAPIHostileClients: a 1 MB line, binary garbage, clients that
// never send and 1,000 parallel connections on the control socket are
// answered or closed, and lbctl keeps working meanwhile.
func TestRuntimeAPIHostileClients(t *testing.T) {
	lab := startRuntimeLab(t)
	lbctl := &control.Client{Socket: lab.sock, Timeout: 5 * time.Second}
	var idle []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.Dial("unix", lab.sock)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	if _, err := lbctl.Status(context.Background()); err != nil {
		t.Fatalf("lbctl with idle clients connected: %v", err)
	}
	send := func(p []byte) (string, error) {
		c, err := net.Dial("unix", lab.sock)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { c.Write(p); c.(*net.UnixConn).CloseWrite() }()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	if out, _ := send(append(bytes.Repeat([]byte("x"), 1<<20), '\n')); out != "Command line too long.\n\n" {
		t.Errorf("1 MB line: %.80q", out)
	}
	garbage := make([]byte, 8192)
	for i := range garbage {
		garbage[i] = byte(i*31 + 7)
	}
	send(garbage)
	var wg sync.WaitGroup
	var answered sync.Map
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := []byte("show stat;show info\n")
			if i%2 == 1 {
				cmd = garbage[i : i+64]
			}
			if out, _ := send(cmd); out != "" {
				answered.Store(i, true)
			}
		}(i)
	}
	wg.Wait()
	n := 0
	answered.Range(func(_, _ any) bool { n++; return true })
	t.Logf("1000 parallel clients: %d answered, the rest closed", n)
	if n == 0 {
		t.Error("no client answered")
	}
	if _, err := lbctl.Status(context.Background()); err != nil {
		t.Fatalf("lbctl after the abuse: %v", err)
	}
	if err := lbctl.SetServerState(context.Background(), "be", "web01", "drain"); err != nil {
		t.Fatalf("lbctl change after the abuse: %v", err)
	}
}

// TestRuntimeAPISocketAccess: runtime_api mode opens the socket, level user
// keeps other users to reading, and lbctl's changes stay with root.
func TestRuntimeAPISocketAccess(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI=true): run the tests as root")
		}
		t.Skip("needs root (runs clients as nobody): run the tests as root")
	}
	setpriv := needTool(t, "setpriv", "util-linux")
	needTool(t, "socat", "socat")
	curl := needTool(t, "curl", "curl")
	b1 := newBackend(t, "web01")
	cfg := strings.NewReplacer("%FRONT%", freeAddr(t), "%B1%", b1.srv.Listener.Addr().String()).Replace(`global:
  control_socket: %SOCK%
  runtime_api: {level: user, mode: "0666", group: nogroup}
sysctl:
  apply: false
frontends:
  - name: fe
    bind: ["%FRONT%"]
    default_backend: be
backends:
  - name: be
    servers:
      - {name: web01, address: "%B1%"}
`)
	td := startDaemon(t, cfg)
	if err := os.Chmod(filepath.Dir(td.sock), 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(td.sock)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket mode %v %v, want 0666", fi.Mode(), err)
	}
	if g, err := user.LookupGroup("nogroup"); err == nil && strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)) != g.Gid {
		t.Errorf("socket group %d, want nogroup (%s)", fi.Sys().(*syscall.Stat_t).Gid, g.Gid)
	}
	asNobody := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	sh := func(cmdline string) string { return asNobody("sh", "-c", cmdline) }
	if out := sh("echo 'show stat' | socat stdio unix-connect:" + td.sock); !strings.Contains(out, "be,web01,") {
		t.Errorf("nobody: show stat: %q", out)
	}
	if out := sh("echo 'disable server be/web01' | socat stdio unix-connect:" + td.sock); out != "Permission denied\n\n" {
		t.Errorf("nobody: disable server at level user: %q", out)
	}
	if out := asNobody(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", td.sock, "http://lbd/v1/status"); out != "200" {
		t.Errorf("nobody: GET /v1/status: %q", out)
	}
	if out := asNobody(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--unix-socket", td.sock, "http://lbd/v1/reload"); out != "403" {
		t.Errorf("nobody: POST /v1/reload: %q, want 403", out)
	}
	if err := (&control.Client{Socket: td.sock}).SetServerState(context.Background(), "be", "web01", "drain"); err != nil {
		t.Errorf("root: lbctl server drain: %v", err)
	}
}

// TestRuntimeAPIDisableFrontend: `disable frontend` releases the port (new
// connections are refused, status says STOP) while a keep-alive client
// already connected gets its next request answered with Connection: close
// (the soft-stop rule); `enable frontend` takes the port back.
func TestRuntimeAPIDisableFrontend(t *testing.T) {
	needTool(t, "socat", "socat")
	lab := startRuntimeLab(t)
	ka, err := net.DialTimeout("tcp", lab.front, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	ka.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(ka)
	get := func() *http.Response {
		t.Helper()
		fmt.Fprintf(ka, "GET / HTTP/1.1\r\nHost: lbd\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request on the kept connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(); r.Close {
		t.Fatal("first response closed the connection")
	}
	if out := socat(t, lab.sock, "disable frontend fe"); out != "\n" {
		t.Fatalf("disable frontend: %q", out)
	}
	if c, err := net.DialTimeout("tcp", lab.front, time.Second); err == nil {
		c.Close()
		t.Fatal("a paused frontend still accepts connections")
	}
	if out := socat(t, lab.sock, "show stat fe 1 -1"); !strings.Contains(out, "STOP") {
		t.Errorf("show stat of a paused frontend: %q", out)
	}
	if r := get(); r.StatusCode != 200 || !r.Close {
		t.Fatalf("request after disable: status %d, close %v; want 200 with Connection: close", r.StatusCode, r.Close)
	}
	if out := socat(t, lab.sock, "enable frontend fe"); out != "\n" {
		t.Fatalf("enable frontend: %q", out)
	}
	if body := rawGet(t, lab.front); body == "" {
		t.Fatal("no answer after enable frontend")
	}
}
