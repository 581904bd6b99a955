package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const bgpBase = `frontends:
  - name: web
    bind: ["*:80"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: a1, address: "127.0.0.1:8080"}
`

func TestBGPLoadsWithDefaults(t *testing.T) {
	cfg, err := LoadBytes("lbd.yaml", []byte(bgpBase+`bgp:
  asn: 65001
  router_id: 10.0.0.11
  prefixes: [192.0.2.10/32, "2001:db8::10"]
  communities: ["65001:100"]
  med: 20
  track: {backends: [app]}
  neighbors:
    - {address: 10.0.0.1, asn: 65000, password: s3cret}
`))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.BGP
	if b == nil || b.ASN != 65001 || *b.MED != 20 || b.Interface != "lo" || *b.Drain != DefaultBGPDrain {
		t.Fatalf("bgp: %+v", b)
	}
	n := b.Neighbors[0]
	if n.Port != 179 || n.HoldTime != 9*time.Second || n.Keepalive != 3*time.Second || n.Password != "s3cret" {
		t.Fatalf("neighbor defaults: %+v", n)
	}
	if p, err := BGPPrefix(b.Prefixes[1]); err != nil || p.String() != "2001:db8::10/128" {
		t.Fatalf("prefix: %v %v", p, err)
	}
	if c, _ := BGPCommunity("65001:100"); c != 65001<<16|100 {
		t.Fatalf("community %x", c)
	}
}

func TestBGPErrorsNameLines(t *testing.T) {
	_, err := LoadBytes("lbd.yaml", []byte(bgpBase+`bgp:
  asn: 0
  router_id: "2001:db8::1"
  prefixes: [192.0.2.0/24]
  communities: ["x:1"]
  track: {backends: [nope]}
  neighbors:
    - address: 10.0.0.1
      asn: 65000
      hold_time: 2s
      keepalive: 3s
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want config errors, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"lbd.yaml:10: bgp.asn", "lbd.yaml:11: bgp.router_id", "lbd.yaml:12: bgp.prefixes[0]",
		"lbd.yaml:13: bgp.communities[0]", "bgp.track.backends[0]", "lbd.yaml:18: bgp.neighbors[0].hold_time",
		"lbd.yaml:19: bgp.neighbors[0].keepalive",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func FuzzBGPValues(f *testing.F) {
	for _, s := range []string{"65001:100", "192.0.2.1", "2001:db8::1/128", "10.0.0.0/8", ":", "1:2:3", "65536:1", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := BGPPrefix(s); err == nil && !p.IsSingleIP() {
			t.Fatalf("%q accepted as %v, not a host route", s, p)
		}
		if c, err := BGPCommunity(s); err == nil && (c>>16 > 65535) {
			t.Fatalf("%q -> %x", s, c)
		}
	})
}
