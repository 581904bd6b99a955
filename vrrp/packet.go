package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Wire constants.
const (
	// IPProtocol is the IP protocol number of VRRP.
	IPProtocol = 112
	// TypeAdvertisement is the only VRRP message type.
	TypeAdvertisement = 1
	// TTL is the IPv4 TTL / IPv6 hop limit VRRP sends and requires on
	// multicast adverts (RFC 5798 §5.1.1.3, §7.1).
	TTL = 255
	// PriorityOwner is the priority of the address owner: it becomes master
	// at once.
	PriorityOwner = 255
	// PriorityStop is the priority a master sends when it resigns.
	PriorityStop = 0

	// MinIntervalV3 and MaxIntervalV3 bound the VRRPv3 advert interval
	// (12 bits of centiseconds).
	MinIntervalV3 = 10 * time.Millisecond
	MaxIntervalV3 = 4095 * 10 * time.Millisecond
	// MinIntervalV2 and MaxIntervalV2 bound the VRRPv2 advert interval
	// (8 bits of seconds).
	MinIntervalV2 = time.Second
	MaxIntervalV2 = 255 * time.Second
	// MaxAddrs is the most addresses one advert carries (an 8-bit count).
	MaxAddrs = 255
	// MaxAuthPass is the longest VRRPv2 simple password (the 8 bytes of
	// authentication data).
	MaxAuthPass = authDataLen

	headerLen   = 8
	authDataLen = 8
	// maxPacket bounds a VRRP message: 8 bytes, 255 IPv6 addresses, auth.
	maxPacket = headerLen + 255*16 + authDataLen
)

// Multicast groups VRRP adverts are sent to.
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.MustParseAddr("ff02::12")
)

// VRRPv2 authentication types (RFC 2338; RFC 3768 keeps only 0 on the wire,
// keepalived still sends 1).
const (
	AuthNone   = 0
	AuthSimple = 1
	AuthAH     = 2
)

// ChecksumMode says how the IPv4 VRRPv3 checksum is computed. VRRPv2 never
// uses a pseudo-header and IPv6 always does; only IPv4 VRRPv3 differs.
type ChecksumMode uint8

const (
	// ChecksumAny accepts both forms on receive; Marshal treats it as
	// ChecksumPseudoHeader.
	ChecksumAny ChecksumMode = iota
	// ChecksumPseudoHeader includes the IPv4 pseudo-header {src, dst, 0,
	// 112, length}: keepalived's and FRR's default.
	ChecksumPseudoHeader
	// ChecksumNoPseudoHeader covers the VRRP message only, as RFC 9568,
	// Cisco and Juniper do (keepalived's v3_checksum_as_v2).
	ChecksumNoPseudoHeader
)

// String names the mode.
func (m ChecksumMode) String() string {
	switch m {
	case ChecksumAny:
		return "any"
	case ChecksumPseudoHeader:
		return "pseudo-header"
	case ChecksumNoPseudoHeader:
		return "no-pseudo-header"
	}
	return fmt.Sprintf("ChecksumMode(%d)", uint8(m))
}

// Packet is one decoded VRRP advertisement.
type Packet struct {
	// Version is 2 (RFC 3768) or 3 (RFC 5798).
	Version int
	VRID    uint8
	// Priority: 255 owner, 1..254 backup, 0 master resigning.
	Priority uint8
	// Interval is the advert interval: centisecond steps for v3 (Max Adver
	// Int), whole seconds for v2 (Adver Int).
	Interval time.Duration
	// AuthType and AuthData are VRRPv2 only.
	AuthType uint8
	AuthData [8]byte
	// Checksum is the value on the wire after Parse; Marshal computes it.
	Checksum uint16
	// Addrs are the virtual addresses, all of the packet's family.
	Addrs []netip.Addr
}

// AuthPass returns the v2 simple password with its zero padding removed.
func (p *Packet) AuthPass() string {
	n := 0
	for n < len(p.AuthData) && p.AuthData[n] != 0 {
		n++
	}
	return string(p.AuthData[:n])
}

// SetAuthPass stores a v2 simple password (at most 8 bytes) and sets
// AuthType to AuthSimple; an empty password sets AuthNone.
func (p *Packet) SetAuthPass(pass string) error {
	if len(pass) > authDataLen {
		return fmt.Errorf("auth password longer than %d bytes", authDataLen)
	}
	p.AuthData = [8]byte{}
	copy(p.AuthData[:], pass)
	p.AuthType = AuthNone
	if pass != "" {
		p.AuthType = AuthSimple
	}
	return nil
}

// Marshal encodes the advert sent from src to dst (both needed for the
// checksum pseudo-header) and fills in p.Checksum.
func (p *Packet) Marshal(src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("marshal vrrp: bad addresses %v -> %v", src, dst)
	}
	v6 := !src.Is4()
	alen := 4
	if v6 {
		alen = 16
	}
	if len(p.Addrs) > MaxAddrs {
		return nil, fmt.Errorf("marshal vrrp: %d addresses, at most %d", len(p.Addrs), MaxAddrs)
	}
	for _, a := range p.Addrs {
		if a.Is4() == v6 || a.Is4In6() {
			return nil, fmt.Errorf("marshal vrrp: address %v is not of the %v family", a, src)
		}
	}
	n := headerLen + alen*len(p.Addrs)
	b := make([]byte, n, n+authDataLen)
	b[1] = p.VRID
	b[2] = p.Priority
	b[3] = byte(len(p.Addrs))
	switch p.Version {
	case 3:
		if p.Interval < MinIntervalV3 || p.Interval > MaxIntervalV3 || p.Interval%(10*time.Millisecond) != 0 {
			return nil, fmt.Errorf("marshal vrrp: v3 interval %v not a multiple of 10ms in [%v, %v]", p.Interval, MinIntervalV3, MaxIntervalV3)
		}
		b[0] = 3<<4 | TypeAdvertisement
		binary.BigEndian.PutUint16(b[4:], uint16(p.Interval/(10*time.Millisecond)))
	case 2:
		if v6 {
			return nil, fmt.Errorf("marshal vrrp: VRRPv2 is IPv4 only")
		}
		if p.Interval < MinIntervalV2 || p.Interval > MaxIntervalV2 || p.Interval%time.Second != 0 {
			return nil, fmt.Errorf("marshal vrrp: v2 interval %v not whole seconds in [1s, 255s]", p.Interval)
		}
		b[0] = 2<<4 | TypeAdvertisement
		b[4] = p.AuthType
		b[5] = byte(p.Interval / time.Second)
		b = append(b, p.AuthData[:]...)
	default:
		return nil, fmt.Errorf("marshal vrrp: unsupported version %d", p.Version)
	}
	for i, a := range p.Addrs {
		copy(b[headerLen+i*alen:], a.AsSlice())
	}
	pseudo := p.Version == 3 && (v6 || mode != ChecksumNoPseudoHeader)
	p.Checksum = checksum(b, src, dst, pseudo)
	binary.BigEndian.PutUint16(b[6:], p.Checksum)
	return b, nil
}

// Parse decodes one VRRP message received from src for dst (the IP header's
// addresses, needed for the checksum). Trailing bytes after the message
// (Ethernet padding) are ignored. Errors are *DropError values whose Reason
// is one of the Drop* constants; hostile input never panics.
func Parse(b []byte, src, dst netip.Addr, mode ChecksumMode) (Packet, error) {
	var p Packet
	if len(b) < headerLen {
		return p, dropf(DropTruncated, "%d bytes, need %d", len(b), headerLen)
	}
	p.Version = int(b[0] >> 4)
	if p.Version != 2 && p.Version != 3 {
		return p, dropf(DropVersion, "version %d", p.Version)
	}
	if t := b[0] & 0x0f; t != TypeAdvertisement {
		return p, dropf(DropType, "type %d", t)
	}
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return p, dropf(DropAddress, "source %v, destination %v", src, dst)
	}
	v6 := !src.Is4()
	if p.Version == 2 && v6 {
		return p, dropf(DropVersion, "VRRPv2 over IPv6")
	}
	alen := 4
	if v6 {
		alen = 16
	}
	p.VRID = b[1]
	p.Priority = b[2]
	count := int(b[3])
	n := headerLen + count*alen
	if p.Version == 2 {
		n += authDataLen
	}
	if len(b) < n {
		return p, dropf(DropTruncated, "%d bytes for %d addresses, need %d", len(b), count, n)
	}
	b = b[:n]
	p.Checksum = binary.BigEndian.Uint16(b[6:])
	if p.Version == 3 {
		p.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * 10 * time.Millisecond
	} else {
		p.AuthType = b[4]
		p.Interval = time.Duration(b[5]) * time.Second
		copy(p.AuthData[:], b[n-authDataLen:])
	}
	if !checksumOK(b, src, dst, p.Version, v6, mode) {
		return p, dropf(DropChecksum, "checksum %#04x does not match (%v)", p.Checksum, mode)
	}
	p.Addrs = make([]netip.Addr, count)
	for i := range count {
		o := headerLen + i*alen
		if v6 {
			p.Addrs[i] = netip.AddrFrom16([16]byte(b[o : o+16]))
		} else {
			p.Addrs[i] = netip.AddrFrom4([4]byte(b[o : o+4]))
		}
	}
	return p, nil
}

func checksumOK(b []byte, src, dst netip.Addr, version int, v6 bool, mode ChecksumMode) bool {
	// Verify by summing the message with its checksum field: the
	// one's-complement sum of a correct message is 0xffff (checksum 0).
	switch {
	case version == 2:
		return checksum(b, src, dst, false) == 0
	case v6:
		return checksum(b, src, dst, true) == 0
	case mode == ChecksumPseudoHeader:
		return checksum(b, src, dst, true) == 0
	case mode == ChecksumNoPseudoHeader:
		return checksum(b, src, dst, false) == 0
	default:
		return checksum(b, src, dst, true) == 0 || checksum(b, src, dst, false) == 0
	}
}

// checksum returns the Internet checksum of b, optionally preceded by the
// IPv4 or IPv6 pseudo-header for protocol 112. The checksum field inside b
// is summed as it is: zero it to compute, leave it to verify (result 0).
func checksum(b []byte, src, dst netip.Addr, pseudo bool) uint16 {
	var sum uint32
	add := func(x []byte) {
		for len(x) >= 2 {
			sum += uint32(x[0])<<8 | uint32(x[1])
			x = x[2:]
		}
		if len(x) == 1 {
			sum += uint32(x[0]) << 8
		}
	}
	if pseudo {
		s, d := src.AsSlice(), dst.AsSlice()
		add(s)
		add(d)
		if src.Is4() {
			sum += IPProtocol + uint32(len(b))
		} else {
			sum += uint32(len(b)>>16) + uint32(len(b)&0xffff) + IPProtocol
		}
	}
	add(b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
