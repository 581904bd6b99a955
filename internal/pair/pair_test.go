package pair

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// fakeNode is what a Link's Local callback reports.
type fakeNode struct {
	mu sync.Mutex
	p  Presence
}

func (f *fakeNode) get() Presence          { f.mu.Lock(); defer f.mu.Unlock(); return f.p }
func (f *fakeNode) set(fn func(*Presence)) { f.mu.Lock(); fn(&f.p); f.mu.Unlock() }

func newLink(t *testing.T, name string, fn *fakeNode, mod func(*Options)) *Link {
	t.Helper()
	o := Options{
		Dir:      filepath.Join(t.TempDir(), "pair"),
		Listen:   "127.0.0.1:0",
		Interval: 100 * time.Millisecond,
		Timeout:  300 * time.Millisecond,
		Local:    fn.get,
		ConfigFile: func() (ConfigFile, error) {
			return ConfigFile{Node: name, File: "/etc/lbd/lbd.yaml", Content: []byte("node: " + name + "\n")}, nil
		},
	}
	if mod != nil {
		mod(&o)
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func start(t *testing.T, ls ...*Link) {
	t.Helper()
	for _, l := range ls {
		if err := l.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
	}
}

func pin(t *testing.T, l *Link, fp, addr string) {
	t.Helper()
	if err := SavePin(l.opts.Dir, Pin{Fingerprint: fp, Address: addr, PinnedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pairOf starts two links on loopback that pin each other.
func pairOf(t *testing.T, fa, fb *fakeNode) (*Link, *Link) {
	a, b := newLink(t, "a", fa, nil), newLink(t, "b", fb, nil)
	start(t, a, b)
	pin(t, a, b.id.Fingerprint, b.Addr())
	pin(t, b, a.id.Fingerprint, a.Addr())
	return a, b
}

func TestIdentityFilesAndToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pair")
	id, created, err := LoadOrCreateIdentity(dir, "n1")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode: %v %v", fi.Mode(), err)
	}
	id2, created, err := LoadOrCreateIdentity(dir, "n1")
	if err != nil || created || id2.Fingerprint != id.Fingerprint {
		t.Fatalf("reload: created=%v err=%v", created, err)
	}
	os.Chmod(filepath.Join(dir, keyFile), 0o644)
	if _, err := LoadIdentity(dir); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("a world-readable key must be refused, got %v", err)
	}
	tok := Token(id.Fingerprint, "10.0.0.1:7946")
	fp, addr, err := ParseToken("  " + tok + "\n")
	if err != nil || fp != id.Fingerprint || addr != "10.0.0.1:7946" {
		t.Fatalf("ParseToken(%q) = %q %q %v", tok, fp, addr, err)
	}
	for _, bad := range []string{"", "lbd-pair-v1:abc@1.2.3.4:7946", TokenPrefix + id.Fingerprint, TokenPrefix + id.Fingerprint + "@0.0.0.0:7946", "x" + tok} {
		if _, _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
	if p, err := LoadPin(dir); p != nil || err != nil {
		t.Fatalf("no pin yet: %v %v", p, err)
	}
}

func TestMutualAuthAndPresence(t *testing.T) {
	fa := &fakeNode{p: Presence{Node: "a", Version: "1.0", ConfigHash: "h1",
		VRRP: []control.PairVRRP{{Name: "vi", VRID: 51, State: "MASTER", Priority: 150}}}}
	fb := &fakeNode{p: Presence{Node: "b", Version: "1.1", ConfigHash: "h1",
		VRRP:    []control.PairVRRP{{Name: "vi", VRID: 51, State: "BACKUP", Priority: 100}},
		Servers: []control.PairServer{{Backend: "app", Server: "web1", State: "DOWN"}}}}
	a, b := pairOf(t, fa, fb)
	waitFor(t, 3*time.Second, "both links up", func() bool {
		return a.Status().Link == "up" && b.Status().Link == "up" && len(a.Status().PeerVRRP) == 1 && len(b.Status().PeerVRRP) == 1
	})
	st := a.Status()
	if st.PeerNode != "b" || st.PeerVRRP[0].State != "BACKUP" || len(st.PeerServers) != 1 || st.PeerServers[0].State != "DOWN" {
		t.Fatalf("a's view of b: %+v", st)
	}
	if !st.VersionSkew || !st.ConfigInSync || st.PeerFingerprint != b.id.Fingerprint {
		t.Fatalf("skew/sync/pin: %+v", st)
	}
	if b.Status().PeerVRRP[0].State != "MASTER" {
		t.Fatalf("b's view of a: %+v", b.Status().PeerVRRP)
	}
	// Config differs: noticed, with a time, and back in sync.
	fb.set(func(p *Presence) { p.ConfigHash = "h2" })
	waitFor(t, 2*time.Second, "config differs", func() bool { return !a.Status().ConfigInSync && !a.Status().DiffersSince.IsZero() })
	fb.set(func(p *Presence) { p.ConfigHash = "h1" })
	waitFor(t, 2*time.Second, "config in sync", func() bool { return a.Status().ConfigInSync })
	// The peer's config file travels for `lbctl config diff`.
	cf, err := a.PeerConfig(context.Background())
	if err != nil || string(cf.Content) != "node: b\n" {
		t.Fatalf("PeerConfig: %v %v", cf, err)
	}
	for _, l := range []*Link{a, b} {
		for reason, n := range l.Status().Refused {
			// not_paired: one side may dial before the other has
			// loaded its pin (the pins are written after Start here).
			if reason != "not_paired" {
				t.Errorf("refused %s=%d on a healthy pair", reason, n)
			}
		}
	}
}

func TestWrongFingerprintRefusedAndCounted(t *testing.T) {
	fa, fb := &fakeNode{}, &fakeNode{}
	a, b := newLink(t, "a", fa, nil), newLink(t, "b", fb, nil)
	start(t, a, b)
	other, _, err := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "x"), "x")
	if err != nil {
		t.Fatal(err)
	}
	// a pins a stranger's fingerprint at b's address; b pins a.
	pin(t, a, other.Fingerprint, b.Addr())
	pin(t, b, a.id.Fingerprint, a.Addr())
	waitFor(t, 3*time.Second, "refusals counted on a", func() bool {
		return a.Status().Refused["wrong_fingerprint"] >= 2
	})
	time.Sleep(300 * time.Millisecond)
	if s := a.Status(); s.Link == "up" || s.PeerNode != "" || s.LastError == "" {
		t.Fatalf("a must not accept b: %+v", s)
	}
	if s := b.Status(); s.Link == "up" || s.PeerNode != "" {
		t.Fatalf("b must not be up with a peer that refuses it: %+v", s)
	}
}

func rawClient(cert *tls.Certificate, maxVersion uint16) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: maxVersion}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg, DisableKeepAlives: true,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
}

func TestUnpinnedClientsRefused(t *testing.T) {
	fa := &fakeNode{}
	a := newLink(t, "a", fa, nil)
	start(t, a)
	peer, _, _ := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "p"), "p")
	stranger, _, _ := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "s"), "s")
	url := "https://" + a.Addr() + pathPresence
	body := func() io.Reader {
		b, _ := json.Marshal(message{Boot: "x", Seq: 1, Sent: time.Now(), Presence: &Presence{Node: "evil"}})
		return bytes.NewReader(b)
	}
	// Not paired yet: even the future peer is refused.
	if _, err := rawClient(&peer.Cert, tls.VersionTLS13).Post(url, "application/json", body()); err == nil {
		t.Fatal("an unpaired node accepted a client")
	}
	pin(t, a, peer.Fingerprint, "127.0.0.1:1")
	waitFor(t, 2*time.Second, "pin loaded", func() bool { return a.Status().PeerFingerprint == peer.Fingerprint })
	for _, c := range []struct {
		name   string
		client *http.Client
		reason string
	}{
		{"no certificate", rawClient(nil, tls.VersionTLS13), "no_certificate"},
		{"unpinned certificate", rawClient(&stranger.Cert, tls.VersionTLS13), "wrong_fingerprint"},
		{"TLS 1.2", rawClient(&peer.Cert, tls.VersionTLS12), "tls_handshake"},
	} {
		before := a.Status().Refused[c.reason]
		resp, err := c.client.Post(url, "application/json", body())
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: accepted (%s)", c.name, resp.Status)
			continue
		}
		waitFor(t, time.Second, c.name+" counted", func() bool { return a.Status().Refused[c.reason] > before })
	}
	if a.Status().Refused["not_paired"] == 0 {
		t.Error("refusal while unpaired not counted")
	}
	if s := a.Status(); s.PeerNode != "" {
		t.Fatalf("a presence from a refused client was applied: %+v", s)
	}
	// The pinned peer itself gets through.
	resp, err := rawClient(&peer.Cert, tls.VersionTLS13).Post(url, "application/json", body())
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pinned peer: %v %v", resp, err)
	}
	resp.Body.Close()
	if a.Status().PeerNode != "evil" {
		t.Fatal("pinned peer's presence not applied")
	}
}

func TestReplayRefused(t *testing.T) {
	fa := &fakeNode{}
	a := newLink(t, "a", fa, func(o *Options) { o.Interval = time.Hour })
	start(t, a)
	peer, _, _ := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "p"), "p")
	pin(t, a, peer.Fingerprint, "127.0.0.1:1")
	a.reloadPin()
	url := "https://" + a.Addr() + pathPresence
	post := func(m message) int {
		t.Helper()
		b, _ := json.Marshal(m)
		// A new connection every time: replay across connections.
		resp, err := rawClient(&peer.Cert, tls.VersionTLS13).Post(url, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	m := message{Boot: "boot1", Seq: 5, Sent: now, Presence: &Presence{Node: "p"}}
	if c := post(m); c != 200 {
		t.Fatalf("first: %d", c)
	}
	if c := post(m); c != http.StatusConflict {
		t.Fatalf("replayed message: %d, want 409", c)
	}
	if a.Status().Refused["replay"] != 1 {
		t.Fatalf("replay not counted: %v", a.Status().Refused)
	}
	// Crossed messages inside the window are fine once each.
	m.Seq = 7
	if c := post(m); c != 200 {
		t.Fatalf("seq 7: %d", c)
	}
	m.Seq = 6
	if c := post(m); c != 200 {
		t.Fatalf("seq 6 (crossed): %d", c)
	}
	if c := post(m); c != http.StatusConflict {
		t.Fatalf("seq 6 again: %d", c)
	}
	// Stale send time.
	if c := post(message{Boot: "boot1", Seq: 100, Sent: now.Add(-time.Hour), Presence: &Presence{}}); c != http.StatusConflict {
		t.Fatalf("stale: %d", c)
	}
	// A new boot of the peer is accepted; the old boot's messages no more.
	if c := post(message{Boot: "boot2", Seq: 1, Sent: now.Add(time.Second), Presence: &Presence{}}); c != 200 {
		t.Fatalf("new boot: %d", c)
	}
	if c := post(message{Boot: "boot1", Seq: 50, Sent: now.Add(500 * time.Millisecond), Presence: &Presence{}}); c != http.StatusConflict {
		t.Fatalf("old boot after new: %d", c)
	}
	r := a.Status().Refused
	if r["replay"] != 3 || r["stale"] != 1 {
		t.Fatalf("refusals: %v", r)
	}
}

func TestGuardWindow(t *testing.T) {
	g := guard{maxAge: time.Minute}
	now := time.Now()
	ok := func(seq uint64) bool { return g.check("b", seq, now, now) == nil }
	if !ok(100) || ok(100) || !ok(99) || ok(99) || !ok(200) || ok(100) || !ok(137) || ok(136-replayWindow+64) {
		t.Fatal("window")
	}
	if g.check("", 1, now, now) == nil || g.check("b", 0, now, now) == nil || g.check("b", 300, time.Time{}, now) == nil {
		t.Fatal("malformed messages accepted")
	}
}

func TestPeerDownStatusFast(t *testing.T) {
	fa, fb := &fakeNode{p: Presence{Node: "a"}}, &fakeNode{p: Presence{Node: "b", VRRP: []control.PairVRRP{{Name: "vi", VRID: 7, State: "MASTER"}}}}
	a, b := pairOf(t, fa, fb)
	waitFor(t, 3*time.Second, "link up", func() bool { return a.Status().Link == "up" })
	killed := time.Now()
	b.Close()
	waitFor(t, 2*time.Second, "a says the peer is unreachable", func() bool { return a.Status().Link == "down" })
	t.Logf("down noticed %s after the peer stopped", time.Since(killed).Round(time.Millisecond))
	st := a.Status()
	if st.UnreachableSince.IsZero() || st.LastError == "" || st.PeerNode != "b" || len(st.PeerVRRP) != 1 {
		t.Fatalf("down status must keep the last known data: %+v", st)
	}

	// A black hole: accepts TCP, never answers. Status stays instant.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := newLink(t, "c", &fakeNode{}, nil)
	start(t, c)
	pin(t, c, b.id.Fingerprint, hole.Addr().String())
	deadline := time.Now().Add(1500 * time.Millisecond)
	var slowest time.Duration
	for time.Now().Before(deadline) {
		t0 := time.Now()
		c.Status()
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
		time.Sleep(5 * time.Millisecond)
	}
	if slowest > 200*time.Millisecond { // a lock and a copy; generous for a loaded CI machine
		t.Fatalf("Status took %s with a black-hole peer", slowest)
	}
	if s := c.Status(); s.Link != "down" || !strings.Contains(s.LastError, "127.0.0.1") {
		t.Fatalf("black-hole peer: %+v", s)
	}
}

func TestBoundedSizes(t *testing.T) {
	fa := &fakeNode{}
	a := newLink(t, "a", fa, func(o *Options) { o.Interval = time.Hour })
	start(t, a)
	peer, _, _ := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "p"), "p")
	pin(t, a, peer.Fingerprint, "127.0.0.1:1")
	a.reloadPin()
	url := "https://" + a.Addr() + pathPresence
	big := `{"boot":"b","seq":1,"sent":"` + time.Now().Format(time.RFC3339Nano) + `","presence":{"node":"` + strings.Repeat("x", maxPresenceBody) + `"}}`
	resp, err := rawClient(&peer.Cert, tls.VersionTLS13).Post(url, "application/json", strings.NewReader(big))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized body: %s", resp.Status)
		}
	}
	if a.Status().Refused["too_large"] != 1 {
		t.Fatalf("oversized body not counted: %v", a.Status().Refused)
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader("{}"))
	req.Header.Set("X-Big", strings.Repeat("y", 2*maxHeaderBytes))
	resp, err = rawClient(&peer.Cert, tls.VersionTLS13).Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversized header: %s", resp.Status)
		}
	}
	if a.Status().PeerNode != "" {
		t.Fatal("oversized message applied")
	}
}

func TestSplitBrainDetectedAndLowerPriorityStepsDown(t *testing.T) {
	master := func(name string, prio int) *fakeNode {
		return &fakeNode{p: Presence{Node: name, VRRP: []control.PairVRRP{{Name: "vi_1", VRID: 51, State: "MASTER", Priority: prio}}}}
	}
	fa, fb := master("a", 150), master("b", 100)
	var downA, downB atomic.Int32
	a := newLink(t, "a", fa, func(o *Options) { o.StepDown = func(string) bool { downA.Add(1); return true } })
	b := newLink(t, "b", fb, func(o *Options) {
		o.StepDown = func(inst string) bool {
			if inst != "vi_1" {
				t.Errorf("step down %q", inst)
			}
			downB.Add(1)
			return true
		}
	})
	start(t, a, b)
	pin(t, a, b.id.Fingerprint, b.Addr())
	pin(t, b, a.id.Fingerprint, a.Addr())
	waitFor(t, 3*time.Second, "split brain on both", func() bool {
		return len(a.Status().SplitBrain) == 1 && len(b.Status().SplitBrain) == 1
	})
	sa, sb := a.Status().SplitBrain[0], b.Status().SplitBrain[0]
	if sa.StepsDown != "peer" || sb.StepsDown != "this node" || sa.VRID != 51 || sa.LocalPriority != 150 || sa.PeerPriority != 100 {
		t.Fatalf("rule: a %+v, b %+v", sa, sb)
	}
	waitFor(t, time.Second, "b steps down", func() bool { return downB.Load() == 1 })
	// b is backup now: the split ends on both, counted once.
	fb.set(func(p *Presence) { p.VRRP[0].State = "BACKUP" })
	waitFor(t, 3*time.Second, "split over", func() bool {
		return len(a.Status().SplitBrain) == 0 && len(b.Status().SplitBrain) == 0
	})
	if downA.Load() != 0 || downB.Load() != 1 || a.Status().SplitBrainTotal != 1 {
		t.Fatalf("downA=%d downB=%d total=%d", downA.Load(), downB.Load(), a.Status().SplitBrainTotal)
	}
	if StepsDown(100, 100, "aa", "bb") != "this node" || StepsDown(100, 100, "bb", "aa") != "peer" {
		t.Fatal("tie rule")
	}
}

func TestNoSplitBrainWhenLinkDown(t *testing.T) {
	l := newLink(t, "a", &fakeNode{}, nil)
	l.mu.Lock()
	l.local = &Presence{VRRP: []control.PairVRRP{{VRID: 1, State: "MASTER"}}}
	l.peer = &Presence{VRRP: []control.PairVRRP{{VRID: 1, State: "MASTER"}}}
	l.mu.Unlock()
	for i := 0; i < 3; i++ {
		l.evalSplit()
	}
	if s := l.Status(); len(s.SplitBrain) != 0 {
		t.Fatalf("split brain reported with the link down: %+v", s.SplitBrain)
	}
}

// TestNoSplitBrainFromADeadPeersLastWord: the peer said MASTER, then died;
// this node took over before the link was declared down. Without a fresh
// presence that is no split brain.
func TestNoSplitBrainFromADeadPeersLastWord(t *testing.T) {
	l := newLink(t, "a", &fakeNode{}, nil)
	l.pin.Store(&Pin{Fingerprint: strings.Repeat("f", 64)})
	l.recordPresence(&Presence{VRRP: []control.PairVRRP{{Name: "vi", VRID: 9, State: "MASTER", Priority: 150}}})
	l.mu.Lock()
	l.local = &Presence{VRRP: []control.PairVRRP{{Name: "vi", VRID: 9, State: "BACKUP", Priority: 100}}}
	l.mu.Unlock()
	l.evalSplit() // the round with the peer's last presence: no split
	l.mu.Lock()
	l.local = &Presence{VRRP: []control.PairVRRP{{Name: "vi", VRID: 9, State: "MASTER", Priority: 100}}}
	l.mu.Unlock()
	for i := 0; i < 3; i++ {
		l.evalSplit()
	}
	if s := l.Status(); len(s.SplitBrain) != 0 || s.Link != "up" {
		t.Fatalf("split brain from a stale presence: %+v (link %s)", s.SplitBrain, s.Link)
	}
}

func TestSplitBrainConfirmedByPeer(t *testing.T) {
	l := newLink(t, "a", &fakeNode{}, nil)
	l.pin.Store(&Pin{Fingerprint: strings.Repeat("0", 64)})
	l.contact()
	l.mu.Lock()
	l.local = &Presence{VRRP: []control.PairVRRP{{Name: "vi", VRID: 9, State: "MASTER", Priority: 150}}}
	// The peer confirmed first and already stepped down (FAULT).
	l.peer = &Presence{VRRP: []control.PairVRRP{{Name: "vi", VRID: 9, State: "FAULT", Priority: 100}}, SplitBrain: []int{9}}
	l.peerN++ // as a received presence does
	l.mu.Unlock()
	l.evalSplit()
	s := l.Status()
	if len(s.SplitBrain) != 1 || s.SplitBrainTotal != 1 || s.SplitBrain[0].StepsDown != "peer" {
		t.Fatalf("a split brain the peer confirmed must count here too: %+v", s.SplitBrain)
	}
	if p := l.localPresence(); len(p.SplitBrain) != 1 || p.SplitBrain[0] != 9 {
		t.Fatalf("presence must carry the confirmed VRIDs: %+v", p.SplitBrain)
	}
	l.mu.Lock()
	l.peer.SplitBrain = nil
	l.peerN++
	l.mu.Unlock()
	l.evalSplit()
	if s := l.Status(); len(s.SplitBrain) != 0 || s.SplitBrainTotal != 1 {
		t.Fatalf("over: %+v", s)
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(Token(strings.Repeat("ab", 32), "10.0.0.1:7946"))
	f.Add("lbd-pair-v1:@:")
	f.Add("lbd-pair-v1:" + strings.Repeat("AB:", 32) + "@[::1]:7946")
	f.Fuzz(func(t *testing.T, s string) {
		fp, addr, err := ParseToken(s)
		if err == nil && (len(fp) != 64 || CheckAddress(addr) != nil) {
			t.Fatalf("accepted %q -> %q %q", s, fp, addr)
		}
	})
}

// A newer peer may add fields (rolling upgrade): they are ignored.
func TestUnknownFieldsFromNewerPeer(t *testing.T) {
	a := newLink(t, "a", &fakeNode{}, func(o *Options) { o.Interval = time.Hour })
	start(t, a)
	peer, _, _ := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "p"), "p")
	pin(t, a, peer.Fingerprint, "127.0.0.1:1")
	a.reloadPin()
	body := `{"boot":"b","seq":1,"sent":"` + time.Now().Format(time.RFC3339Nano) + `","presence":{"node":"p","version":"9.9","future":{"x":1}},"also_new":true}`
	resp, err := rawClient(&peer.Cert, tls.VersionTLS13).Post("https://"+a.Addr()+pathPresence, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || a.Status().PeerVersion != "9.9" {
		t.Fatalf("newer peer's presence: %s %+v", resp.Status, a.Status())
	}
}
