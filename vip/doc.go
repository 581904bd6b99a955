// Package vip owns the virtual IP side effects of lbd: adding and removing
// VIPs on interfaces and announcing them to the layer-2 segment.
//
//   - Manager (vip.go) adds/removes/queries VIPs. NewNetlink is the real one
//     (vishvananda/netlink, with label and prefix, IPv6 VIPs added with
//     IFA_F_NODAD as keepalived does, idempotent, errors naming the address
//     and the interface, ErrLinkNotFound for a missing interface); Fake is
//     an in-memory one whose String renders `ip addr add ...` lines.
//   - RemoveStale removes configured VIPs that a crashed lbd left behind,
//     before the node joins VRRP as backup (keepalived does the same).
//   - Announcer (vip.go) tells the segment that this node now owns an
//     address. NewGARP sends gratuitous ARP with mdlayher/arp in the form
//     keepalived uses (an ARP request with sender IP = target IP = VIP and
//     target MAC ff:ff:ff:ff:ff:ff, broadcast), optionally followed by the
//     reply form (op 2, target MAC = own MAC). NewNA sends an IPv6
//     unsolicited neighbour advertisement (to ff02::1, hop limit 255,
//     Override set, source = the VIP, target link-layer address option)
//     with mdlayher/ndp. Dual routes by address family. FakeAnnouncer
//     records calls.
//
// One Announce call sends one round; the caller (vrrp) schedules bursts,
// the delayed second burst and periodic refreshes.
//
// # Privileges and namespaces
//
// Adding and removing addresses needs CAP_NET_ADMIN; GARP and NA need
// CAP_NET_RAW (AF_PACKET and raw ICMPv6 sockets). All calls act in the
// network namespace of the calling OS thread (for the netlink Manager
// built with NewNetlinkAt: of the handle).
//
// # Testing
//
// NewGARPConn takes any net.PacketConn, so the exact frame layout is tested
// without root; the netns tests (TestNetnsVIP*) run the real Manager and
// announcers inside an internal/lab namespace pair.
package vip
