// Package lab builds throw-away layer-2 network labs for tests: N network
// namespaces ("nodes") plugged into one Linux bridge that lives in its own
// "switch" namespace. Nothing is ever created in, routed to or bridged with
// the host's namespace, and everything is torn down by t.Cleanup, also after
// a failed test.
//
// # Topology
//
//	          switch namespace <prefix>-sw
//	      ┌──────────── br0 ────────────┐
//	     p0            p1              pN-1      (bridge ports)
//	      │             │                │        veth pairs
//	    lab0          lab0             lab0      (Config.IfName in each node)
//	 <prefix>-a    <prefix>-b   ...             node namespaces
//	192.0.2.11/24 192.0.2.12/24                 (Config.Subnet, host .11, .12, ...)
//
// Every run gets a unique prefix ("lbt" + 5 hex digits). Node i (0-based)
// gets host address 11+i in Config.Subnet (default 192.0.2.0/24, RFC 5737
// TEST-NET-1) and, with Config.IPv6, 2001:db8::<11+i>/64 (RFC 3849), added
// with IFA_F_NODAD so it is usable at once. The node interface name defaults
// to "lab0", a name that does not exist on a normal host, so a helper that by
// mistake runs in the host namespace fails instead of touching eth0.
// The bridge has multicast snooping off, so VRRP multicast and IPv6
// neighbour discovery are flooded to every port like on a dumb switch.
// New returns only once every node interface, bridge port and the bridge
// are operationally up: the kernel drops frames sent on a veth before its
// carrier has been processed, which would eat a test's first packet.
// SetPortUp(true) and SetLinkUp(true) wait the same way.
//
// # Use
//
//	func TestNetnsFailover(t *testing.T) {
//		l := lab.New(t, lab.Config{Nodes: []string{"lb1", "lb2", "client"}})
//		lb1 := l.Node("lb1")
//		p := lb1.Start(t, "/path/to/lbd", "run", "-c", cfg) // ip netns exec; killed on cleanup
//		err := lb1.Do(func() error { // locked OS thread inside lb1's namespace
//			c, err := net.Dial("tcp", "192.0.2.100:80")   // the socket stays in lb1's namespace
//			...
//		})
//		addrs, err := l.Node("lb2").Addrs("lab0")
//		p.Signal(syscall.SIGKILL)
//	}
//
// Require(t) skips the test with a remedy when it cannot create namespaces
// (not root, no CAP_SYS_ADMIN, no `ip` command) and fails it instead when
// the environment variable CI is "true". New and NewNS call it themselves.
//
// # Threads and namespaces
//
// Do and NewNS switch a fresh, locked goroutine's OS thread into a namespace
// and never switch it back: the goroutine exits still locked, so the Go
// runtime throws the thread away. No other goroutine ever runs in a foreign
// namespace. Sockets opened inside Do keep their namespace after Do returns,
// which is what lets one test process act as several hosts. /proc/sys/net
// read or written inside Do is that namespace's (net.* sysctls are per
// namespace); fs.* and other keys are host-global.
//
// Do not call Node.Start from inside Do: the child gets PR_SET_PDEATHSIG,
// which the kernel ties to the thread that forked it, and Do's thread dies
// when Do returns.
//
// # Processes
//
// Node.Start runs `ip netns exec <ns> cmd args...` in its own process group,
// copies its stdout and stderr line by line to the test log (prefixed with
// the node's name) and into a buffer (Process.Output), and kills the whole
// group with SIGKILL on cleanup, waiting for it to exit before the
// namespaces are deleted. Node.Run runs a command to completion and returns
// its combined output.
package lab
