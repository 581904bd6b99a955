package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

func BenchmarkDecode(b *testing.B) {
	p := Packet{Version: 3, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
	msg, err := p.Marshal(ka1, Group4, ChecksumPseudoHeader)
	if err != nil {
		b.Fatal(err)
	}
	info := RecvInfo{Src: ka1, Dst: Group4, TTL: 255}
	want := Expect{VRID: 51, Version: 3, Interval: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg, info, want); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	p := Packet{Version: 3, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Marshal(ka1, Group4, ChecksumPseudoHeader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMachineBackupAdvert(b *testing.B) {
	m, _ := NewMachine(MachineConfig{Version: 3, Priority: 100, Interval: 100 * time.Millisecond, Preempt: true, LocalAddr: local})
	m.Handle(t0, Startup{})
	ev := AdvertReceived{Src: upper, Priority: 150, Interval: 100 * time.Millisecond}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Millisecond)
		m.Handle(now, ev)
	}
}
