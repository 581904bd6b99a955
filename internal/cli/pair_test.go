package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := LBCTL(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestPairInitJoin walks the documented setup on two state directories.
func TestPairInitJoin(t *testing.T) {
	dir := t.TempDir()
	cfg := func(name, listen string) string {
		p := filepath.Join(dir, name+".yaml")
		text := "frontends:\n  - name: f\n    bind: ['*:80']\n    default_backend: b\nbackends:\n  - name: b\n    servers: [{name: s, address: '127.0.0.1:1'}]\n" +
			"pair:\n  listen: " + listen + "\n  state_dir: " + filepath.Join(dir, name) + "\n"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c1, c2 := cfg("n1", "10.0.0.1:7946"), cfg("n2", "'*:7946'")

	tok1, errs, code := run(t, "pair", "init", "--config", c1)
	if code != 0 || !strings.HasPrefix(tok1, pair.TokenPrefix) || !strings.Contains(tok1, "@10.0.0.1:7946") {
		t.Fatalf("init: %d %q %q", code, tok1, errs)
	}
	again, _, _ := run(t, "pair", "init", "--config", c1)
	if again != tok1 {
		t.Fatal("init twice must keep the identity")
	}
	// n2 listens on a wildcard: the token needs --address.
	if _, errs, code := run(t, "pair", "join", strings.TrimSpace(tok1), "--config", c2); code == 0 || !strings.Contains(errs, "--address") {
		t.Fatalf("join without a reachable address: %d %q", code, errs)
	}
	tok2, errs, code := run(t, "pair", "join", strings.TrimSpace(tok1), "--config", c2, "--address", "10.0.0.2:7946")
	if code != 0 || !strings.Contains(tok2, "@10.0.0.2:7946") {
		t.Fatalf("join on n2: %d %q %q", code, tok2, errs)
	}
	if _, errs, code := run(t, "pair", "join", strings.TrimSpace(tok2), "--config", c1); code != 0 {
		t.Fatalf("join on n1: %d %q", code, errs)
	}
	fp1, _, _ := pair.ParseToken(tok1)
	fp2, _, _ := pair.ParseToken(tok2)
	p1, _ := pair.LoadPin(pair.Dir(filepath.Join(dir, "n1")))
	p2, _ := pair.LoadPin(pair.Dir(filepath.Join(dir, "n2")))
	if p1 == nil || p2 == nil || p1.Fingerprint != fp2 || p2.Fingerprint != fp1 || p1.Address != "10.0.0.2:7946" {
		t.Fatalf("pins: %+v %+v", p1, p2)
	}
	// Own token, a stranger without --force, garbage.
	if _, errs, code := run(t, "pair", "join", strings.TrimSpace(tok1), "--config", c1); code == 0 || !strings.Contains(errs, "own") {
		t.Fatalf("joining itself: %d %q", code, errs)
	}
	other := pair.Token(strings.Repeat("ab", 32), "10.0.0.3:7946")
	if _, errs, code := run(t, "pair", "join", other, "--config", c1); code == 0 || !strings.Contains(errs, "--force") {
		t.Fatalf("re-pair without --force: %d %q", code, errs)
	}
	if _, _, code := run(t, "pair", "join", "hello", "--config", c1); code == 0 {
		t.Fatal("garbage token accepted")
	}
	out, _, code := run(t, "pair", "show", "--config", c1)
	if code != 0 || !strings.Contains(out, fp1) || !strings.Contains(out, fp2) {
		t.Fatalf("show: %d %q", code, out)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n"
	got := unifiedDiff("x", "y", a, b, 2)
	want := "--- x\n+++ y\n@@ -2,5 +2,5 @@\n b\n c\n-d\n+D\n e\n f\n@@ -9,2 +9,3 @@\n i\n j\n+k\n"
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("x", "y", a, a, 3) != "" {
		t.Fatal("equal files must give no diff")
	}
	if d := unifiedDiff("x", "y", "", "new\n", 3); d != "--- x\n+++ y\n@@ -0,0 +1,1 @@\n+new\n" {
		t.Fatalf("from empty: %q", d)
	}
}

func TestRenderPair(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 10, 0, time.UTC)
	st := &control.Status{Version: "1.0",
		VRRP:     []control.VRRPStatus{{Name: "vi_1", VRID: 51, State: "MASTER"}},
		Backends: []control.BackendStatus{{Name: "app", Servers: []control.ServerStatus{{Name: "web1", State: "UP"}, {Name: "web2", State: "UP"}}}},
		Pair: &control.PairStatus{Peer: "10.0.0.2:7946", PeerNode: "lb2", Link: "down", UnreachableSince: now.Add(-7 * time.Second),
			LastContact: now.Add(-8 * time.Second), LastError: "dial tcp: connection refused", LastErrorAt: now.Add(-7 * time.Second),
			PeerVersion: "0.9", VersionSkew: true, DiffersSince: now.Add(-time.Hour),
			PeerVRRP:    []control.PairVRRP{{Name: "vi_1", VRID: 51, State: "MASTER", Priority: 100, Base: 100}},
			PeerServers: []control.PairServer{{Backend: "app", Server: "web1", State: "DOWN"}, {Backend: "app", Server: "web2", State: "UP"}},
			SplitBrain:  []control.SplitBrain{{VRID: 51, Instance: "vi_1", Since: now, LocalPriority: 150, PeerPriority: 100, StepsDown: "peer"}},
			Refused:     map[string]uint64{"wrong_fingerprint": 3},
			Tickets:     &control.PairTickets{KeyID: "a8eab927bc00e79c", PeerKeyID: "04d741c0d218af24", Role: "local"}}}
	var b bytes.Buffer
	renderPair(&b, st, false, now)
	out := b.String()
	for _, want := range []string{
		"link DOWN: peer lb2 10.0.0.2:7946 unreachable since 2026-12-04 12:00:03 (7s ago)",
		"last error 12:00:03: dial tcp: connection refused",
		"version skew", "config differs since 2026-12-04 11:00:10: see `lbctl config diff`",
		"SPLIT BRAIN VRID 51 (vi_1)", "the peer yields",
		"server app/web1 UP here, DOWN on the peer", "refused: wrong_fingerprint=3",
		"session tickets: shared with peer: no (link down: this node rotates its own keys, key id a8eab927bc00e79c)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "app/web2") {
		t.Errorf("web2 is UP on both:\n%s", out)
	}
	for _, c := range []struct {
		tk   control.PairTickets
		want string
	}{
		{control.PairTickets{KeyID: "k1", PeerKeyID: "k1", Role: "owner", Shared: true}, "shared with peer: yes (key id k1, this node owns and rotates the keys)"},
		{control.PairTickets{KeyID: "k1", PeerKeyID: "k1", Role: "follower", Shared: true}, "shared with peer: yes (key id k1, the peer owns"},
		{control.PairTickets{KeyID: "k1", Role: "owner"}, "shared with peer: no (key id k1 here, - on the peer: the peer sends no ticket keys"},
	} {
		if got := ticketLine(&c.tk, func(_, s string) string { return s }); !strings.Contains(got, c.want) {
			t.Errorf("ticket line %+v: %q, want %q", c.tk, got, c.want)
		}
	}
}

// diffBackend serves only what `lbctl config diff` and `status` need.
type diffBackend struct {
	control.Backend
	pc  *control.PeerConfig
	err error
}

func (b *diffBackend) PeerConfig(context.Context) (*control.PeerConfig, error) { return b.pc, b.err }

func TestConfigDiffCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lbd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &diffBackend{pc: &control.PeerConfig{Node: "lb2", File: "/etc/lbd/lbd.yaml", LocalFile: "/etc/lbd/lbd.yaml",
		Local: "vrrp:\n  priority: 101\nbackends: []\n", Content: "vrrp:\n  priority: 100\nbackends: []\n"}}
	srv := &http.Server{Handler: control.Handler(b)}
	go srv.Serve(ln)
	defer srv.Close()

	out, _, code := lbctl(t, sock, "config", "diff")
	if code != 1 || !strings.Contains(out, "-  priority: 101\n+  priority: 100\n") || !strings.Contains(out, "+++ /etc/lbd/lbd.yaml (lb2)") {
		t.Fatalf("diff: exit %d\n%s", code, out)
	}
	b.pc.Content = b.pc.Local
	if out, _, code := lbctl(t, sock, "config", "diff"); code != 0 || out != "" {
		t.Fatalf("same files: exit %d %q", code, out)
	}
	b.err = errors.New("fetching the peer's config: peer 10.0.0.2:7946: connection refused")
	if _, errs, code := lbctl(t, sock, "config", "diff"); code != 2 || !strings.Contains(errs, "10.0.0.2:7946") {
		t.Fatalf("peer down: exit %d %q", code, errs)
	}
}

// syncBackend serves `lbctl config push` and `lbctl server`.
type syncBackend struct {
	control.Backend
	push  *control.PushResult
	err   error
	local bool
}

func (b *syncBackend) PushConfig(context.Context, string) (*control.PushResult, error) {
	return b.push, b.err
}

func (b *syncBackend) ChangeServer(_ context.Context, be, srv string, state *string, weight *int, local bool, _ string) (*control.ServerChangeResult, error) {
	b.local = local
	res := &control.ServerChangeResult{OK: true, Nodes: []control.NodeChange{{Node: "lb1", Changed: true, Result: strings.ToUpper(*state)}}}
	if local {
		res.Nodes = append(res.Nodes, control.NodeChange{Node: "peer", Result: "not changed (--local)"})
	} else {
		res.Nodes = append(res.Nodes, control.NodeChange{Node: "lb2", Changed: true, Result: strings.ToUpper(*state)})
	}
	return res, nil
}

func TestConfigPushAndServerCommands(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lbd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &syncBackend{push: &control.PushResult{OK: true, Nodes: []control.PushNode{
		{Node: "lb1", Status: "sent", Detail: "shared part sent"},
		{Node: "lb2", Status: "applied", File: "/etc/lbd/lbd.yaml", Prev: "/etc/lbd/lbd.yaml.prev"}}}}
	srv := &http.Server{Handler: control.Handler(b)}
	go srv.Serve(ln)
	defer srv.Close()

	out, _, code := lbctl(t, sock, "config", "push")
	if code != 0 || !strings.Contains(out, "this node lb1: sent") || !strings.Contains(out, "peer lb2: applied: /etc/lbd/lbd.yaml written and reloaded (previous file kept as /etc/lbd/lbd.yaml.prev)") {
		t.Fatalf("push: exit %d\n%s", code, out)
	}
	b.push.OK = false
	b.push.Nodes[1] = control.PushNode{Node: "lb2", Status: "refused", Error: "/etc/lbd/lbd.yaml:11: vrrp.instances[1].interface: needs an interface"}
	if out, _, code := lbctl(t, sock, "config", "push"); code != 1 || !strings.Contains(out, "peer lb2: refused, nothing changed there") || !strings.Contains(out, "  /etc/lbd/lbd.yaml:11:") {
		t.Fatalf("refused push: exit %d\n%s", code, out)
	}
	b.err = errors.New("push to peer lb2 (10.0.0.2:7946) failed: connection refused; this node's config is unchanged")
	if _, errs, code := lbctl(t, sock, "config", "push"); code != 2 || !strings.Contains(errs, "10.0.0.2:7946") {
		t.Fatalf("peer down: exit %d %q", code, errs)
	}

	out, _, code = lbctl(t, sock, "server", "drain", "app/web01")
	if code != 0 || out != "this node lb1: app/web01 DRAIN\npeer lb2: app/web01 DRAIN\n" || b.local {
		t.Fatalf("drain: exit %d %q", code, out)
	}
	out, _, code = lbctl(t, sock, "server", "drain", "--local", "app/web01")
	if code != 0 || !b.local || !strings.Contains(out, "\npeer: app/web01 not changed (--local)") {
		t.Fatalf("drain --local: exit %d %q", code, out)
	}
}
