package sysctl

import "strconv"

// Mode says how a Setting's value is applied.
type Mode int

const (
	// Exact writes Value unless the key already holds it.
	Exact Mode = iota
	// AtLeast treats Value as an integer minimum: the key is raised to it
	// when lower and left alone when equal or higher (never lowered).
	AtLeast
	// OneOf is for flags whose values are not ordered: the key is left
	// alone when it holds Value or one of Accept, and set to Value
	// otherwise. An operator's other good choice is kept; a value that
	// does not do what the row needs is replaced.
	OneOf
)

func (m Mode) String() string {
	switch m {
	case AtLeast:
		return ">="
	case OneOf:
		return "in"
	}
	return "="
}

// Setting is one row of the tuning table.
type Setting struct {
	// Key is the dotted sysctl name.
	Key string
	// Fallbacks are older names tried, in order, when Key does not exist.
	Fallbacks []string
	// Value is the wanted value (a minimum for AtLeast).
	Value string
	Mode  Mode
	// Accept are the other values that leave the key alone (OneOf only).
	Accept []string
	// Why is the operator-facing reason (docs/sysctl.md repeats it).
	Why string
}

// NofileSlack is added to 2*maxconn for RLIMIT_NOFILE: listeners, health
// checks, the control socket, log files and netlink/raw sockets.
const NofileSlack = 1024

// NofileFor returns the RLIMIT_NOFILE lbd wants for maxconn: every proxied
// connection needs two descriptors (client and server side), plus slack.
func NofileFor(maxconn int) uint64 {
	if maxconn < 0 {
		maxconn = 0
	}
	return 2*uint64(maxconn) + NofileSlack
}

// Options select the rows of the tuning table. The caller (lbd's config
// loader) supplies every value; the zero Options yields only the fs.file-max
// row sized for NofileFor(0).
type Options struct {
	// NonlocalBind sets net.ipv4.ip_nonlocal_bind and its IPv6 twin to 1;
	// false leaves both keys as they are.
	NonlocalBind bool
	// Forward sets net.ipv4.ip_forward to 1; false leaves it as it is.
	Forward bool
	// FileMax is the minimum fs.file-max. The row is always present: the
	// minimum is raised to NofileFor(Maxconn) when that is higher, and 0
	// means only that.
	FileMax int64
	// ConntrackMax is the minimum net.netfilter.nf_conntrack_max; 0 leaves
	// the key out of the table.
	ConntrackMax int64
	// LoopbackVIP sets net.ipv4.conf.all.arp_ignore and arp_announce for
	// VIPs that live on a local loopback/dummy device (lbd's bgp section):
	// the node must not answer ARP for them on its other interfaces nor
	// use them as ARP source. false leaves both keys as they are.
	LoopbackVIP bool
	// Maxconn is the process-wide connection limit that sizes
	// RLIMIT_NOFILE and the fs.file-max floor.
	Maxconn int
	// ReadOnly makes Apply read and report the keys without writing them
	// (each result carries the warning "not applied"); RLIMIT_NOFILE, a
	// process-local limit, is still raised.
	ReadOnly bool
}

// Settings is the table lbd applies for o. Disabled flags are absent from
// the table: lbd then leaves those keys as they are.
func Settings(o Options) []Setting {
	var s []Setting
	if o.NonlocalBind {
		s = append(s,
			Setting{Key: "net.ipv4.ip_nonlocal_bind", Value: "1", Mode: Exact,
				Why: "lets frontends bind the VIP on the backup node before VRRP moves it there, so failover needs no rebind"},
			Setting{Key: "net.ipv6.ip_nonlocal_bind", Value: "1", Mode: Exact,
				Why: "the same for IPv6 VIPs (absent when IPv6 is disabled: then a warning only)"},
		)
	}
	if o.Forward {
		s = append(s, Setting{Key: "net.ipv4.ip_forward", Value: "1", Mode: Exact,
			Why: "routing through the load balancer (default on, as the keepalived/HAProxy guides set it); set sysctl.ip_forward: false to leave it alone"})
	}
	if o.LoopbackVIP {
		// The kernel uses the maximum of conf/all and conf/<interface>
		// for both keys, so the "all" row covers every interface. They
		// are flags, not limits: arp_ignore 2 (same subnet too) and 8
		// (never reply) are at least as strict as 1 and are kept, while
		// 3 still answers for global addresses on lo and 4-7 are
		// reserved (they behave as 0), so those are set to 1.
		// arp_announce 2 is its strictest value (3 and more behave as 0).
		s = append(s,
			Setting{Key: "net.ipv4.conf.all.arp_ignore", Value: "1", Mode: OneOf, Accept: []string{"2", "8"},
				Why: "the VIP is on a local loopback/dummy device (bgp): answer ARP only for addresses on the interface asked, or the node would claim the VIP on its LAN (2 and 8, stricter, are kept)"},
			Setting{Key: "net.ipv4.conf.all.arp_announce", Value: "2", Mode: Exact,
				Why: "the VIP is on a local loopback/dummy device (bgp): never use it as the source of ARP requests; use the outgoing interface's best address"},
		)
	}
	fileMax := max(o.FileMax, 0)
	// The host-wide file table must hold at least this process's descriptors.
	if n := NofileFor(o.Maxconn); n <= 1<<62 && int64(n) > fileMax {
		fileMax = int64(n)
	}
	s = append(s, Setting{Key: "fs.file-max", Value: strconv.FormatInt(fileMax, 10), Mode: AtLeast,
		Why: "host-wide open file limit; must exceed the descriptors of every proxied connection (host-global: only raised)"})
	if o.ConntrackMax > 0 {
		s = append(s, Setting{Key: "net.netfilter.nf_conntrack_max", Fallbacks: []string{"net.ipv4.netfilter.ip_conntrack_max"},
			Value: strconv.FormatInt(o.ConntrackMax, 10), Mode: AtLeast,
			Why: "a full conntrack table drops new connections silently; absent when nf_conntrack is not loaded (then nothing is tracked and there is nothing to raise)"})
	}
	return s
}
