package vrrp

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	ka1  = netip.MustParseAddr("10.9.0.1")
	ka2  = netip.MustParseAddr("10.9.0.2")
	kVIP = netip.MustParseAddr("10.9.0.100")
)

func TestGoldenKeepalivedCaptures(t *testing.T) {
	tests := []struct {
		file     string
		version  int
		interval time.Duration
		pass     string
		// wantPrio counts adverts per (source, priority).
		wantPrio map[string]int
		wantARPs int
	}{
		{"cap1.pcap", 3, time.Second, "", map[string]int{"10.9.0.1/150": 5, "10.9.0.1/0": 1, "10.9.0.2/100": 3, "10.9.0.2/0": 1}, 10},
		{"cap2.pcap", 3, 100 * time.Millisecond, "", map[string]int{"10.9.0.1/150": 59, "10.9.0.1/0": 1, "10.9.0.2/100": 21}, 15},
		{"cap3.pcap", 2, time.Second, "secret12", map[string]int{"10.9.0.1/150": 3, "10.9.0.1/0": 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			adverts, arps := readPcap(t, tt.file)
			if arps != tt.wantARPs {
				t.Errorf("ARP frames = %d, want %d", arps, tt.wantARPs)
			}
			got := map[string]int{}
			for _, a := range adverts {
				want := Expect{VRID: 51, Version: tt.version, Interval: tt.interval, AuthPass: tt.pass, Checksum: ChecksumPseudoHeader}
				p, err := Decode(a.payload, a.info, want)
				if err != nil {
					t.Fatalf("%v: %v", a, err)
				}
				if p.Interval != tt.interval || !reflect.DeepEqual(p.Addrs, []netip.Addr{kVIP}) {
					t.Errorf("%v: decoded %+v", a, p)
				}
				if tt.pass != "" && (p.AuthType != AuthSimple || p.AuthPass() != tt.pass) {
					t.Errorf("%v: auth %d %q", a, p.AuthType, p.AuthPass())
				}
				got[a.info.Src.String()+"/"+itoa(int(p.Priority))]++
				// Encoding the decoded packet gives keepalived's bytes back.
				q := p
				out, err := q.Marshal(a.info.Src, a.info.Dst, ChecksumPseudoHeader)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, a.payload) {
					t.Errorf("%v: re-encoded % x", a, out)
				}
				// Ethernet padding after the message is tolerated.
				padded := append(append([]byte{}, a.payload...), make([]byte, 14)...)
				if _, err := Decode(padded, a.info, want); err != nil {
					t.Errorf("%v padded: %v", a, err)
				}
			}
			if !reflect.DeepEqual(got, tt.wantPrio) {
				t.Errorf("adverts by source/priority = %v, want %v", got, tt.wantPrio)
			}
		})
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestChecksumModes(t *testing.T) {
	// keepalived 2.2.7, v3, VRID 51, prio 150, 100 cs, from the notes.
	keep := mustHex(t, "3133960100644361 0a090064")
	info := RecvInfo{Src: ka1, Dst: Group4, TTL: 255}
	for _, tt := range []struct {
		mode ChecksumMode
		ok   bool
	}{{ChecksumAny, true}, {ChecksumPseudoHeader, true}, {ChecksumNoPseudoHeader, false}} {
		_, err := Parse(keep, info.Src, info.Dst, tt.mode)
		if (err == nil) != tt.ok || (err != nil && DropReason(err) != DropChecksum) {
			t.Errorf("mode %v: err %v, want ok=%v", tt.mode, err, tt.ok)
		}
	}
	p := Packet{Version: 3, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
	strict, err := p.Marshal(ka1, Group4, ChecksumNoPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if p.Checksum != 0x2dfa {
		t.Errorf("strict checksum = %#04x, want 0x2dfa", p.Checksum)
	}
	if _, err := Parse(strict, ka1, Group4, ChecksumAny); err != nil {
		t.Errorf("strict form rejected by ChecksumAny: %v", err)
	}
	if _, err := Parse(strict, ka1, Group4, ChecksumPseudoHeader); DropReason(err) != DropChecksum {
		t.Errorf("strict form accepted by ChecksumPseudoHeader: %v", err)
	}
	// The pseudo-header uses the real destination: in unicast mode the peer.
	uni, _ := p.Marshal(ka1, ka2, ChecksumPseudoHeader)
	if _, err := Parse(uni, ka1, Group4, ChecksumPseudoHeader); DropReason(err) != DropChecksum {
		t.Errorf("unicast checksum computed over the group address: %v", err)
	}
	if _, err := Parse(uni, ka1, ka2, ChecksumPseudoHeader); err != nil {
		t.Errorf("unicast: %v", err)
	}
}

func TestOtherImplementationVector(t *testing.T) {
	// Trisia/govrrp's test vector: VRID 240, prio 100, 192.168.0.230 from
	// 192.168.0.220, pseudo-header checksum 0x0608.
	b := mustHex(t, "31f0640100640608c0a800e6")
	p, err := Parse(b, netip.MustParseAddr("192.168.0.220"), Group4, ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if p.VRID != 240 || p.Priority != 100 || p.Interval != time.Second || p.Addrs[0] != netip.MustParseAddr("192.168.0.230") {
		t.Errorf("decoded %+v", p)
	}
}

func TestV2Golden(t *testing.T) {
	for _, tt := range []struct {
		hex  string
		prio uint8
	}{
		{"2133960101 01cfde 0a090064 7365637265743132", 150},
		{"2133000101 0165df 0a090064 7365637265743132", 0},
	} {
		want := mustHex(t, tt.hex)
		p := Packet{Version: 2, VRID: 51, Priority: tt.prio, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
		if err := p.SetAuthPass("secret12"); err != nil {
			t.Fatal(err)
		}
		got, err := p.Marshal(ka1, Group4, ChecksumAny)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("prio %d: got % x, want % x", tt.prio, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	tests := []struct {
		name     string
		p        Packet
		src, dst netip.Addr
		mode     ChecksumMode
	}{
		{"v3 ipv4 3 addrs", Packet{Version: 3, VRID: 7, Priority: 254, Interval: 10 * time.Millisecond,
			Addrs: []netip.Addr{kVIP, netip.MustParseAddr("10.9.0.101"), netip.MustParseAddr("192.0.2.1")}}, ka1, Group4, ChecksumPseudoHeader},
		{"v3 ipv4 strict", Packet{Version: 3, VRID: 255, Priority: 1, Interval: MaxIntervalV3,
			Addrs: []netip.Addr{kVIP}}, ka1, ka2, ChecksumNoPseudoHeader},
		{"v3 ipv6", Packet{Version: 3, VRID: 1, Priority: 100, Interval: 50 * time.Millisecond,
			Addrs: []netip.Addr{netip.MustParseAddr("fe80::12"), netip.MustParseAddr("2001:db8::100")}}, ll, Group6, ChecksumAny},
		{"v2 no auth", Packet{Version: 2, VRID: 51, Priority: 0, Interval: 255 * time.Second,
			Addrs: []netip.Addr{kVIP}}, ka2, Group4, ChecksumAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.p
			b, err := in.Marshal(tt.src, tt.dst, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Parse(b, tt.src, tt.dst, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in, out) {
				t.Errorf("round trip:\n in %+v\nout %+v", in, out)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	v6 := netip.MustParseAddr("fe80::1")
	for _, tt := range []struct {
		name     string
		p        Packet
		src, dst netip.Addr
	}{
		{"v3 interval not centiseconds", Packet{Version: 3, VRID: 1, Interval: 15 * time.Millisecond}, ka1, Group4},
		{"v3 interval too long", Packet{Version: 3, VRID: 1, Interval: 41 * time.Second}, ka1, Group4},
		{"v2 sub-second", Packet{Version: 2, VRID: 1, Interval: 500 * time.Millisecond}, ka1, Group4},
		{"v2 over ipv6", Packet{Version: 2, VRID: 1, Interval: time.Second}, v6, Group6},
		{"mixed family", Packet{Version: 3, VRID: 1, Interval: time.Second, Addrs: []netip.Addr{v6}}, ka1, Group4},
		{"version 4", Packet{Version: 4, VRID: 1, Interval: time.Second}, ka1, Group4},
		{"no source", Packet{Version: 3, VRID: 1, Interval: time.Second}, netip.Addr{}, Group4},
	} {
		if _, err := tt.p.Marshal(tt.src, tt.dst, ChecksumAny); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	var p Packet
	if err := p.SetAuthPass("toolongpw"); err == nil {
		t.Error("9-byte password accepted")
	}
}

func TestDecodeDropReasons(t *testing.T) {
	mk := func(mut func(p *Packet)) []byte {
		p := Packet{Version: 3, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
		mut(&p)
		b, err := p.Marshal(ka1, Group4, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mkV2 := func(pass string, interval time.Duration) []byte {
		p := Packet{Version: 2, VRID: 51, Priority: 150, Interval: interval, Addrs: []netip.Addr{kVIP}}
		_ = p.SetAuthPass(pass)
		b, err := p.Marshal(ka1, Group4, ChecksumAny)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := mk(func(*Packet) {})
	v3 := Expect{VRID: 51, Version: 3, Interval: time.Second}
	v2 := Expect{VRID: 51, Version: 2, Interval: time.Second, AuthPass: "secret12"}
	mcast := RecvInfo{Src: ka1, Dst: Group4, TTL: 255}
	corrupt := append([]byte{}, good...)
	corrupt[2] ^= 0x01
	badType := append([]byte{}, good...)
	badType[0] = 0x32
	badVersion := append([]byte{}, good...)
	badVersion[0] = 0x41
	tests := []struct {
		name string
		b    []byte
		info RecvInfo
		want Expect
		drop string
	}{
		{"ok", good, mcast, v3, ""},
		{"ttl 64 multicast", good, RecvInfo{Src: ka1, Dst: Group4, TTL: 64}, v3, DropTTL},
		{"wrong vrid", mk(func(p *Packet) { p.VRID = 52 }), mcast, v3, DropVRID},
		{"bad checksum", corrupt, mcast, v3, DropChecksum},
		{"bad version", badVersion, mcast, v3, DropVersion},
		{"v2 when v3 configured", mkV2("secret12", time.Second), mcast, v3, DropVersion},
		{"bad type", badType, mcast, v3, DropType},
		{"truncated header", good[:7], mcast, v3, DropTruncated},
		{"truncated addresses", good[:11], mcast, v3, DropTruncated},
		{"empty", nil, mcast, v3, DropTruncated},
		{"v3 interval 0", func() []byte {
			b := append([]byte{}, good...)
			b[4], b[5] = 0, 0
			b[6], b[7] = 0, 0
			c := checksum(b, ka1, Group4, true)
			b[6], b[7] = byte(c>>8), byte(c)
			return b
		}(), mcast, v3, DropInterval},
		{"v2 ok", mkV2("secret12", time.Second), mcast, v2, ""},
		{"v2 interval mismatch", mkV2("secret12", 2*time.Second), mcast, v2, DropInterval},
		{"v2 wrong password", mkV2("secret13", time.Second), mcast, v2, DropAuth},
		{"v2 no auth when expected", mkV2("", time.Second), mcast, v2, DropAuth},
		{"v2 auth when none expected", mkV2("secret12", time.Second), mcast, Expect{VRID: 51, Version: 2, Interval: time.Second}, DropAuth},
		{"family mismatch", good, RecvInfo{Src: netip.MustParseAddr("fe80::1"), Dst: Group4, TTL: 255}, v3, DropAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.b, tt.info, tt.want)
			if got := DropReason(err); got != tt.drop || (tt.drop == "" && err != nil) {
				t.Errorf("drop = %q (%v), want %q", got, err, tt.drop)
			}
		})
	}
	// A unicast advert from a peer that is not configured.
	p := Packet{Version: 3, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
	b, _ := p.Marshal(ka1, ka2, ChecksumPseudoHeader)
	_, err := Decode(b, RecvInfo{Src: ka1, Dst: ka2, TTL: 64}, Expect{VRID: 51, Version: 3, Peers: []netip.Addr{netip.MustParseAddr("10.9.0.3")}})
	if DropReason(err) != DropAddress {
		t.Errorf("unknown unicast peer: %v", err)
	}
	if _, err := Decode(b, RecvInfo{Src: ka1, Dst: ka2, TTL: 64}, Expect{VRID: 51, Version: 3, Peers: []netip.Addr{ka1}}); err != nil {
		t.Errorf("known unicast peer with TTL 64: %v", err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecode(f *testing.F) {
	f.Add(mustHex(f, "31339601006443610a090064"), true, byte(255))
	f.Add(mustHex(f, "213396010101cfde0a0900647365637265743132"), true, byte(255))
	f.Add(mustHex(f, "31f0640100640608c0a800e6"), false, byte(64))
	f.Add([]byte{0x31, 1, 100, 255, 0, 100, 0, 0}, true, byte(255))
	f.Fuzz(func(t *testing.T, b []byte, v4 bool, ttl byte) {
		info := RecvInfo{Src: ka1, Dst: Group4, TTL: int(ttl)}
		if !v4 {
			info = RecvInfo{Src: netip.MustParseAddr("fe80::1"), Dst: Group6, TTL: int(ttl)}
		}
		for _, want := range []Expect{
			{VRID: 51, Version: 3, Interval: time.Second},
			{VRID: 51, Version: 2, Interval: time.Second, AuthPass: "secret12"},
		} {
			p, err := Decode(b, info, want)
			if err != nil {
				if DropReason(err) == "" {
					t.Fatalf("error without a drop reason: %v", err)
				}
				continue
			}
			// Whatever decodes re-encodes to the same message.
			out, err := p.Marshal(info.Src, info.Dst, ChecksumAny)
			if err != nil {
				// A v3 interval above 0 always encodes; Marshal must accept
				// every packet Decode accepts.
				t.Fatalf("decoded %+v does not encode: %v", p, err)
			}
			if len(out) > len(b) {
				t.Fatalf("re-encoded %d bytes from %d", len(out), len(b))
			}
		}
	})
}
