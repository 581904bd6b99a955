package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// vectorsDir holds the keepalived 2.2.7 captures (see its README.md).
const vectorsDir = "/work/shared/vectors/vrrp"

// capturedAdvert is one VRRP datagram out of a pcap file.
type capturedAdvert struct {
	frame   int
	info    RecvInfo
	payload []byte
}

// readPcap is a tiny reader for classic little- or big-endian pcap files with
// Ethernet link type: it returns the IPv4 protocol-112 datagrams and the
// number of ARP frames.
func readPcap(t *testing.T, name string) (adverts []capturedAdvert, arps int) {
	t.Helper()
	path := filepath.Join(vectorsDir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && os.Getenv("CI") != "true" {
			t.Skipf("skipping: %s missing (the shared vectors are not in this checkout)", path)
		}
		t.Fatal(err)
	}
	if len(data) < 24 {
		t.Fatalf("%s: short pcap header", name)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	default:
		t.Fatalf("%s: not a classic pcap file", name)
	}
	if lt := bo.Uint32(data[20:]); lt != 1 {
		t.Fatalf("%s: link type %d, want Ethernet", name, lt)
	}
	off := 24
	for i := 0; off+16 <= len(data); i++ {
		incl := int(bo.Uint32(data[off+8:]))
		off += 16
		if incl > len(data)-off {
			t.Fatalf("%s: frame %d truncated", name, i)
		}
		frame := data[off : off+incl]
		off += incl
		if len(frame) < 14 {
			continue
		}
		switch binary.BigEndian.Uint16(frame[12:]) {
		case 0x0806:
			arps++
		case 0x0800:
			ip := frame[14:]
			if len(ip) < 20 || ip[9] != IPProtocol {
				continue
			}
			ihl := int(ip[0]&0x0f) * 4
			total := int(binary.BigEndian.Uint16(ip[2:]))
			if total > len(ip) || ihl > total {
				t.Fatalf("%s: frame %d: bad IPv4 lengths", name, i)
			}
			adverts = append(adverts, capturedAdvert{
				frame: i,
				info: RecvInfo{
					Src: netip.AddrFrom4([4]byte(ip[12:16])),
					Dst: netip.AddrFrom4([4]byte(ip[16:20])),
					TTL: int(ip[8]),
				},
				payload: ip[ihl:total],
			})
		}
	}
	return adverts, arps
}

func (c capturedAdvert) String() string {
	return fmt.Sprintf("frame %d %v->%v % x", c.frame, c.info.Src, c.info.Dst, c.payload)
}
