package pair

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs"
)

// ticketCert is one self-signed certificate both test nodes serve, as a
// pair serves the same certificate on both nodes.
func ticketCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lb.test"}, DNSNames: []string{"lb.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

// ticketServer is a loopback TLS 1.3 server that writes one byte per
// connection (after the session ticket) and closes it.
func ticketServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte{'x'})
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// resumes dials addr with the client's session cache and reports whether
// the session resumed. Reading the byte takes the server's new ticket.
func resumes(t *testing.T, addr string, client *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().DidResume
}

type ticketNode struct {
	fp    string
	keys  *certs.TicketKeys
	share *TicketSync
	addr  string
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTicketNode(t *testing.T, fp string, cert tls.Certificate, clk *fakeClock) *ticketNode {
	t.Helper()
	k, err := certs.NewTicketKeys(time.Hour, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
	k.Attach(cfg)
	return &ticketNode{fp: fp, keys: k, share: NewTicketSync(k, clk.now), addr: ticketServer(t, cfg)}
}

// exchange is one presence round over a fake link: each node takes the
// other's ticket part.
func exchange(t *testing.T, a, b *ticketNode) {
	t.Helper()
	oa, ob := a.share.Outgoing(a.fp, b.fp), b.share.Outgoing(b.fp, a.fp)
	if err := b.share.Incoming(b.fp, a.fp, oa, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.share.Incoming(a.fp, b.fp, ob, 3*time.Second); err != nil {
		t.Fatal(err)
	}
}

func newClient(pool *x509.CertPool) *tls.Config {
	return &tls.Config{ServerName: "lb.test", RootCAs: pool, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
}

func TestTicketOwnerRule(t *testing.T) {
	for _, c := range [][2]string{{"1f", "a0"}, {"00aa", "00ab"}, {"sha256:01", "sha256:ff"}} {
		if !TicketOwner(c[0], c[1]) || TicketOwner(c[1], c[0]) {
			t.Errorf("%s vs %s: exactly the lower fingerprint must own the keys", c[0], c[1])
		}
	}
	if !TicketOwner("ff", "") {
		t.Error("an unpaired node must own its own keys")
	}
}

func TestTicketSyncResumesOnPeer(t *testing.T) {
	cert, pool := ticketCert(t)
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	a := newTicketNode(t, "0a", cert, clk) // lower fingerprint: the owner
	b := newTicketNode(t, "0b", cert, clk)

	// Before any sync a session from A does not resume on B.
	ca := newClient(pool)
	resumes(t, a.addr, ca)
	if resumes(t, b.addr, ca) {
		t.Fatal("resumed on B before the keys were shared")
	}
	// A session B issued before the sync must still resume on B after it.
	cbOld := newClient(pool)
	resumes(t, b.addr, cbOld)
	bOldID := TicketKeyID(b.keys.Keys())

	exchange(t, a, b)
	if got, want := TicketKeyID(b.keys.Keys()), TicketKeyID(a.keys.Keys()); got != want {
		t.Fatalf("B's key id %s, want the owner's %s", got, want)
	}
	if !b.share.Following() || a.share.Following() {
		t.Fatal("B must follow A, A must not follow")
	}
	exchange(t, a, b) // the owner learns B's id
	sa, sb := a.share.Status(a.fp, b.fp, true), b.share.Status(b.fp, a.fp, true)
	if sa.Role != "owner" || sb.Role != "follower" || !sa.Shared || !sb.Shared || sa.KeyID != sb.KeyID {
		t.Fatalf("status after sync: A %+v, B %+v", sa, sb)
	}
	if sb.KeyID == bOldID {
		t.Fatal("B still shows its own key id")
	}

	c := newClient(pool)
	resumes(t, a.addr, c)
	if !resumes(t, b.addr, c) {
		t.Fatal("a session from A did not resume on B after the sync")
	}
	c2 := newClient(pool)
	resumes(t, b.addr, c2)
	if !resumes(t, a.addr, c2) {
		t.Fatal("a session from B did not resume on A after the sync")
	}
	if !resumes(t, b.addr, cbOld) {
		t.Fatal("a session B issued before the sync no longer resumes on B")
	}

	// The follower does not rotate; the owner does, and its new key
	// reaches B with the next presence.
	before := b.keys.Keys()
	if err := b.share.Tick(); err != nil {
		t.Fatal(err)
	}
	if !equalKeys(before, b.keys.Keys()) {
		t.Fatal("the follower rotated its keys while following")
	}
	c3 := newClient(pool)
	resumes(t, a.addr, c3) // a ticket under A's previous key
	if err := a.share.Tick(); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	exchange(t, a, b)
	if TicketKeyID(b.keys.Keys()) != TicketKeyID(a.keys.Keys()) {
		t.Fatal("B did not take the owner's rotated key")
	}
	if !resumes(t, b.addr, c3) {
		t.Fatal("a ticket under the owner's previous key did not resume on B")
	}

	// One rotation period later (presence every 2s) B has dropped its
	// own pre-sync keys.
	for range 1801 {
		clk.add(2 * time.Second)
		exchange(t, a, b)
	}
	for _, k := range b.keys.Keys() {
		if !containsKey(a.keys.Keys(), k) {
			t.Fatal("B kept its own keys for more than one rotation period")
		}
	}

	// The owner restarts (a fresh set) with no gap in the presences: a
	// session made under the shared keys before still resumes on B.
	c4 := newClient(pool)
	resumes(t, a.addr, c4)
	oldA := a.keys.Keys()
	if err := a.keys.Set([][32]byte{{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	exchange(t, a, b)
	if TicketKeyID(b.keys.Keys()) != TicketKeyID(a.keys.Keys()) || !containsKey(b.keys.Keys(), oldA[0]) {
		t.Fatal("B must take the restarted owner's set and keep the previous shared keys")
	}
	if !resumes(t, b.addr, c4) {
		t.Fatal("a session from before the owner's restart did not resume on B")
	}

	// Keys never show in the status or in a log line.
	for _, s := range []string{sb.KeyID, a.share.Outgoing(a.fp, b.fp).String()} {
		if strings.Contains(s, string(a.keys.Keys()[0][:4])) {
			t.Fatalf("key material in %q", s)
		}
	}
}

func TestTicketSyncLinkDownRotatesLocally(t *testing.T) {
	cert, _ := ticketCert(t)
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	a := newTicketNode(t, "0a", cert, clk)
	b := newTicketNode(t, "0b", cert, clk)
	exchange(t, a, b)
	shared := TicketKeyID(b.keys.Keys())

	// No presence for longer than the hold: the link is down, B rotates
	// its own set again and keeps the owner's keys for decryption.
	clk.add(4 * time.Second)
	if b.share.Following() {
		t.Fatal("B still follows with no presence from the owner")
	}
	if st := b.share.Status(b.fp, a.fp, false); st.Role != "local" || st.Shared {
		t.Fatalf("status with the link down: %+v", st)
	}
	if err := b.share.Tick(); err != nil {
		t.Fatal(err)
	}
	ks := b.keys.Keys()
	if TicketKeyID(ks) == shared || !containsKey(ks, a.keys.Keys()[0]) {
		t.Fatal("B must rotate to a key of its own and keep the owner's for decryption")
	}
	// The owner rotates whatever the link does.
	before := TicketKeyID(a.keys.Keys())
	if err := a.share.Tick(); err != nil || TicketKeyID(a.keys.Keys()) == before {
		t.Fatalf("the owner did not rotate: %v", err)
	}
	// The link comes back: B follows again.
	exchange(t, a, b)
	if TicketKeyID(b.keys.Keys()) != TicketKeyID(a.keys.Keys()) {
		t.Fatal("B did not follow the owner once the link was back")
	}
}

func TestTicketSyncRefusesBadSets(t *testing.T) {
	cert, _ := ticketCert(t)
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	a := newTicketNode(t, "0a", cert, clk)
	b := newTicketNode(t, "0b", cert, clk)
	good := a.share.Outgoing(a.fp, b.fp)
	before := b.keys.Keys()
	for name, ts := range map[string]*TicketShare{
		"short key":   {ID: good.ID, Keys: [][]byte{good.Keys[0][:16]}},
		"too many":    {ID: good.ID, Keys: make([][]byte, maxSharedTicketKeys+1)},
		"id mismatch": {ID: "0000000000000000", Keys: good.Keys},
	} {
		if err := b.share.Incoming(b.fp, a.fp, ts, time.Second); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if !equalKeys(before, b.keys.Keys()) {
			t.Fatalf("%s: keys changed", name)
		}
	}
	// Keys from the non-owner are never applied.
	if err := a.share.Incoming(a.fp, b.fp, &TicketShare{ID: TicketKeyID(b.keys.Keys()), Keys: [][]byte{before[0][:]}}, time.Second); err != nil {
		t.Fatal(err)
	}
	if containsKey(a.keys.Keys(), before[0]) {
		t.Fatal("the owner applied keys from the follower")
	}
}
