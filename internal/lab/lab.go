package lab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Config describes a lab. The zero value gives two nodes "a" and "b" on
// 192.0.2.0/24 with interface "lab0".
type Config struct {
	// Nodes names the node namespaces, in order; default {"a", "b"}.
	// Names are 1 to 8 characters of [a-z0-9].
	Nodes []string
	// Subnet is the IPv4 subnet of the segment; node i gets host 11+i.
	// Default 192.0.2.0/24. Must be RFC 5737 TEST-NET or 10.0.0.0/8.
	Subnet netip.Prefix
	// IPv6 also assigns 2001:db8::<11+i>/64 (RFC 3849) to every node.
	IPv6 bool
	// IfName is the node-side interface name, default "lab0" (<= 15 bytes).
	IfName string
}

// Lab is a running lab. All fields are read-only.
type Lab struct {
	// Prefix is this run's unique name prefix ("lbt" + 5 hex digits).
	Prefix string
	// Switch is the namespace holding the bridge "br0" and the ports.
	Switch *Node
	// Nodes are the node namespaces in Config.Nodes order.
	Nodes []*Node

	cfg Config
}

// Node is one network namespace of a lab.
type Node struct {
	// Name is the node's short name (Config.Nodes entry, or "sw").
	Name string
	// NS is the namespace's name as `ip netns list` shows it.
	NS string
	// Handle is an open handle on the namespace (closed on cleanup).
	Handle netns.NsHandle
	// IfName is the node's lab interface ("" for the switch).
	IfName string
	// Port is the bridge port (in the switch namespace) of this node.
	Port string
	// Addr is the node's IPv4 address with the subnet's prefix length.
	Addr netip.Prefix
	// Addr6 is the node's IPv6 address, valid only with Config.IPv6.
	Addr6 netip.Prefix
	// MAC is the hardware address of IfName.
	MAC net.HardwareAddr

	lab *Lab
	nl  *netlink.Handle
}

var (
	requireOnce sync.Once
	requireErr  string

	nameRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)
)

// Require skips t with a one-line remedy unless this process can build labs
// (root, `ip` on PATH, namespace creation permitted). With CI=true it fails
// t instead of skipping.
func Require(t testing.TB) {
	t.Helper()
	requireOnce.Do(func() { requireErr = probe() })
	if requireErr == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab: %s (CI=true, so this is a failure, not a skip)", requireErr)
	}
	t.Skip("lab: " + requireErr)
}

// probe returns "" when labs can be built, else the reason and remedy.
func probe() string {
	if os.Geteuid() != 0 {
		return "needs root for network namespaces; run: sudo -E go test -run 'Netns|Lab' ./..."
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs the ip command; run: apt-get install iproute2 (or make test-tools)"
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		errc <- unix.Unshare(unix.CLONE_NEWNET)
	}()
	if err := <-errc; err != nil {
		return fmt.Sprintf("cannot create a network namespace (%v); run as real root, not in a restricted container", err)
	}
	return ""
}

// New builds a lab and registers its teardown with t.Cleanup. It skips (or
// fails under CI=true) via Require, and fails t on any setup error; what was
// built before the error is still torn down.
func New(t testing.TB, cfg Config) *Lab {
	t.Helper()
	Require(t)
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{"a", "b"}
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = netip.MustParsePrefix("192.0.2.0/24")
	}
	if cfg.IfName == "" {
		cfg.IfName = "lab0"
	}
	if err := cfg.check(); err != nil {
		t.Fatalf("lab: %v", err)
	}
	l := &Lab{Prefix: "lbt" + randHex(5), cfg: cfg}
	var err error
	if l.Switch, err = l.newNode(t, "sw"); err != nil {
		t.Fatalf("lab: %v", err)
	}
	if err := l.setupSwitch(); err != nil {
		t.Fatalf("lab: %v", err)
	}
	for i, name := range cfg.Nodes {
		n, err := l.newNode(t, name)
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		l.Nodes = append(l.Nodes, n)
		if err := l.plug(n, i); err != nil {
			t.Fatalf("lab: node %s: %v", name, err)
		}
	}
	for _, n := range l.Nodes {
		if err := waitOperUp(n.nl, n.IfName, n.NS); err != nil {
			t.Fatalf("lab: %v", err)
		}
		if err := waitOperUp(l.Switch.nl, n.Port, l.Switch.NS); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	if err := waitOperUp(l.Switch.nl, "br0", l.Switch.NS); err != nil {
		t.Fatalf("lab: %v", err)
	}
	return l
}

// waitOperUp waits (bounded) until the kernel reports name operationally
// up. The kernel activates a device's queueing discipline asynchronously
// (linkwatch) after carrier comes up; until then every frame sent on it is
// silently dropped, so a test that sends right after setup could lose its
// first packet. Operstate UP is set in the same step.
func waitOperUp(h *netlink.Handle, name, ns string) error {
	var state netlink.LinkOperState
	ok := WaitFor(5*time.Second, func() bool {
		l, err := h.LinkByName(name)
		if err != nil {
			return false
		}
		state = l.Attrs().OperState
		return state == netlink.OperUp
	})
	if !ok {
		return fmt.Errorf("link %s in %s not operationally up after 5s (state %s)", name, ns, state)
	}
	return nil
}

func (c *Config) check() error {
	seen := map[string]bool{"sw": true}
	for _, n := range c.Nodes {
		if !nameRE.MatchString(n) {
			return fmt.Errorf("node name %q: want 1-8 characters of [a-z0-9]", n)
		}
		if seen[n] {
			return fmt.Errorf("node name %q: duplicate or reserved", n)
		}
		seen[n] = true
	}
	if len(c.IfName) > 15 || c.IfName == "br0" {
		return fmt.Errorf("interface name %q: want <= 15 bytes, not br0", c.IfName)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 24 || c.Subnet.Bits() < 8 {
		return fmt.Errorf("subnet %s: want an IPv4 prefix /8../24", c.Subnet)
	}
	ok := false
	for _, p := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "10.0.0.0/8"} {
		pp := netip.MustParsePrefix(p)
		if pp.Bits() <= c.Subnet.Bits() && pp.Contains(c.Subnet.Addr()) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("subnet %s: want RFC 5737 TEST-NET or 10.0.0.0/8", c.Subnet)
	}
	if len(c.Nodes) > 200 {
		return errors.New("too many nodes (max 200)")
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(b)[:n]
}

// newNode creates the named namespace and registers its deletion.
func (l *Lab) newNode(t testing.TB, name string) (*Node, error) {
	n := &Node{Name: name, NS: l.Prefix + "-" + name, lab: l, Handle: netns.None()}
	if out, err := exec.Command("ip", "netns", "add", n.NS).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", n.NS, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { n.destroy(t) })
	h, err := netns.GetFromName(n.NS)
	if err != nil {
		return nil, fmt.Errorf("opening namespace %s: %w", n.NS, err)
	}
	n.Handle = h
	if n.nl, err = netlink.NewHandleAt(h); err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", n.NS, err)
	}
	lo, err := n.nl.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("lo in %s: %w", n.NS, err)
	}
	if err := n.nl.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("setting lo up in %s: %w", n.NS, err)
	}
	return n, nil
}

func (n *Node) destroy(t testing.TB) {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	if n.Handle.IsOpen() {
		_ = n.Handle.Close()
	}
	out, err := exec.Command("ip", "netns", "del", n.NS).CombinedOutput()
	if err == nil {
		return
	}
	// Fall back to the library; report only if the namespace is still there.
	if err2 := netns.DeleteNamed(n.NS); err2 != nil {
		if _, statErr := os.Stat("/run/netns/" + n.NS); statErr == nil {
			t.Errorf("lab: deleting namespace %s: %v: %s; and: %v", n.NS, err, strings.TrimSpace(string(out)), err2)
		}
	}
}

func (l *Lab) setupSwitch() error {
	no := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}, MulticastSnooping: &no}
	if err := l.Switch.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("adding bridge br0 in %s: %w", l.Switch.NS, err)
	}
	if err := l.Switch.nl.LinkSetUp(br); err != nil {
		return fmt.Errorf("setting br0 up in %s: %w", l.Switch.NS, err)
	}
	return nil
}

// plug creates the veth pair directly in the switch namespace with its peer
// in the node namespace: no link ever exists in the host namespace.
func (l *Lab) plug(n *Node, i int) error {
	sw := l.Switch.nl
	n.IfName = l.cfg.IfName
	n.Port = fmt.Sprintf("p%d", i)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.Port},
		PeerName:      n.IfName,
		PeerNamespace: netlink.NsFd(int(n.Handle)),
	}
	if err := sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("adding veth %s/%s: %w", n.Port, n.IfName, err)
	}
	port, err := sw.LinkByName(n.Port)
	if err != nil {
		return fmt.Errorf("port %s: %w", n.Port, err)
	}
	br, err := sw.LinkByName("br0")
	if err != nil {
		return fmt.Errorf("bridge br0: %w", err)
	}
	if err := sw.LinkSetMaster(port, br); err != nil {
		return fmt.Errorf("attaching %s to br0: %w", n.Port, err)
	}
	if err := sw.LinkSetUp(port); err != nil {
		return fmt.Errorf("setting %s up: %w", n.Port, err)
	}
	link, err := n.nl.LinkByName(n.IfName)
	if err != nil {
		return fmt.Errorf("link %s: %w", n.IfName, err)
	}
	n.MAC = link.Attrs().HardwareAddr
	n.Addr = netip.PrefixFrom(hostAddr(l.cfg.Subnet.Masked().Addr(), 11+i), l.cfg.Subnet.Bits())
	if err := n.nl.AddrAdd(link, &netlink.Addr{IPNet: prefixToIPNet(n.Addr)}); err != nil {
		return fmt.Errorf("adding %s to %s: %w", n.Addr, n.IfName, err)
	}
	if l.cfg.IPv6 {
		n.Addr6 = netip.PrefixFrom(hostAddr(netip.MustParseAddr("2001:db8::"), 11+i), 64)
		a := &netlink.Addr{IPNet: prefixToIPNet(n.Addr6), Flags: unix.IFA_F_NODAD}
		if err := n.nl.AddrAdd(link, a); err != nil {
			return fmt.Errorf("adding %s to %s: %w", n.Addr6, n.IfName, err)
		}
	}
	if err := n.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", n.IfName, err)
	}
	return nil
}

// hostAddr returns base + off (off < 256 fits the last byte of a /24 or /64).
func hostAddr(base netip.Addr, off int) netip.Addr {
	b := base.AsSlice()
	b[len(b)-1] += byte(off)
	a, _ := netip.AddrFromSlice(b)
	return a
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Node returns the node with the given name, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Netlink returns a netlink handle bound to the node's namespace (owned by
// the lab; do not close it).
func (n *Node) Netlink() *netlink.Handle { return n.nl }

// Do runs fn on a fresh OS thread inside the node's namespace. See Do.
func (n *Node) Do(fn func() error) error { return Do(n.Handle, fn) }

// Do runs fn on a fresh, locked OS thread switched into ns and waits for it.
// The thread is discarded afterwards (never switched back), so a failed or
// panicking fn cannot leak a namespace into other goroutines. Sockets created
// in fn stay in ns.
func Do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime discards the thread
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("entering namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// NewNS creates an anonymous network namespace for a test (no name, no
// links but a down lo) and closes it on cleanup; the kernel frees it when the
// last handle, socket and thread using it are gone.
func NewNS(t testing.TB) netns.NsHandle {
	t.Helper()
	Require(t)
	type res struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		h, err := netns.New()
		c <- res{h, err}
	}()
	r := <-c
	if r.err != nil {
		t.Fatalf("lab: creating network namespace: %v", r.err)
	}
	t.Cleanup(func() { _ = r.h.Close() })
	return r.h
}

// Addrs returns the addresses on the node's interface ifname ("" means the
// lab interface), IPv4 and IPv6, as the kernel reports them.
func (n *Node) Addrs(ifname string) ([]netip.Prefix, error) {
	if ifname == "" {
		ifname = n.IfName
	}
	link, err := n.nl.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("link %s in %s: %w", ifname, n.NS, err)
	}
	var list []netlink.Addr
	for try := 0; ; try++ {
		list, err = n.nl.AddrList(link, netlink.FAMILY_ALL)
		if errors.Is(err, netlink.ErrDumpInterrupted) && try < 5 {
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s in %s: %w", ifname, n.NS, err)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

// HasAddr reports whether addr (any prefix length) is on ifname ("" = the
// lab interface).
func (n *Node) HasAddr(ifname string, addr netip.Addr) (bool, error) {
	ps, err := n.Addrs(ifname)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Addr() == addr {
			return true, nil
		}
	}
	return false, nil
}

// SetLinkUp sets the node's lab interface up or down (inside the node).
// Up returns once both ends of the cable are operationally up again.
func (n *Node) SetLinkUp(up bool) error {
	if err := setUp(n.nl, n.IfName, up, n.NS); err != nil || !up {
		return err
	}
	return n.waitCable()
}

// SetPortUp sets the node's bridge port up or down: a pulled cable, as seen
// from the switch; the node's own interface stays administratively up.
// Up returns once both ends are operationally up again.
func (n *Node) SetPortUp(up bool) error {
	if err := setUp(n.lab.Switch.nl, n.Port, up, n.lab.Switch.NS); err != nil || !up {
		return err
	}
	return n.waitCable()
}

func (n *Node) waitCable() error {
	if err := waitOperUp(n.nl, n.IfName, n.NS); err != nil {
		return err
	}
	return waitOperUp(n.lab.Switch.nl, n.Port, n.lab.Switch.NS)
}

func setUp(h *netlink.Handle, name string, up bool, ns string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s in %s: %w", name, ns, err)
	}
	if up {
		err = h.LinkSetUp(link)
	} else {
		err = h.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("setting %s in %s up=%v: %w", name, ns, up, err)
	}
	return nil
}

// WaitFor polls cond every 10 ms until it returns true or timeout passes,
// and reports whether it became true. A bounded helper for netns tests that
// wait on the kernel or on a daemon.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
