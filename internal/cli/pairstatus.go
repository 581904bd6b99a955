package cli

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// renderPair prints the PAIR section of `lbctl status`: the link, the
// peer's VRRP states, config sync, split brain and the servers the two
// nodes see differently. With the link down it shows the last known data.
func renderPair(w io.Writer, st *control.Status, colour bool, now time.Time) {
	p := st.Pair
	if p == nil {
		return
	}
	paint := func(code, s string) string {
		if !colour || code == "" {
			return s
		}
		return code + s + "\x1b[0m"
	}
	fmt.Fprintln(w, "\nPAIR")
	peer := p.Peer
	if p.PeerNode != "" {
		peer = p.PeerNode + " " + p.Peer
	}
	switch p.Link {
	case "unpaired":
		fmt.Fprintf(w, "  link %s: no peer pinned; run `lbctl pair init` here and `lbctl pair join TOKEN` on the other node\n", paint(yellow, "UNPAIRED"))
	case "up":
		fmt.Fprintf(w, "  link %s with %s since %s\n", paint(green, "UP"), peer, p.UpSince.Format("15:04:05"))
	default:
		since := "-"
		if !p.UnreachableSince.IsZero() {
			since = p.UnreachableSince.Format("2006-01-02 15:04:05") + " (" + ago(now, p.UnreachableSince) + ")"
		}
		fmt.Fprintf(w, "  link %s: peer %s unreachable since %s\n", paint(red, "DOWN"), orDash(peer), since)
		if p.PeerNode != "" {
			fmt.Fprintf(w, "  showing the peer as last heard %s\n", ago(now, p.LastContact))
		}
	}
	if p.LastError != "" && p.Link != "up" {
		fmt.Fprintf(w, "  last error %s: %s\n", p.LastErrorAt.Format("15:04:05"), firstLine(p.LastError))
	}
	if p.PeerVersion != "" {
		v := "lbd " + p.PeerVersion
		if p.VersionSkew {
			v = paint(yellow, "lbd "+p.PeerVersion+" (this node runs "+st.Version+": version skew)")
		}
		fmt.Fprintf(w, "  peer %s, up %s\n", v, (time.Duration(p.PeerUptimeSec) * time.Second).String())
	}
	if p.PeerNode != "" || len(p.PeerVRRP) > 0 {
		switch {
		case p.ConfigInSync:
			fmt.Fprintf(w, "  config %s (shared parts equal)\n", paint(green, "in sync"))
		case !p.DiffersSince.IsZero():
			fmt.Fprintf(w, "  config %s since %s: see `lbctl config diff`, `lbctl config push`\n", paint(yellow, "differs"), p.DiffersSince.Format("2006-01-02 15:04:05"))
		}
	}
	if tk := p.Tickets; tk != nil {
		fmt.Fprintln(w, "  "+ticketLine(tk, paint))
	}
	for _, sb := range p.SplitBrain {
		who := "this node yields"
		if sb.StepsDown == "peer" {
			who = "the peer yields"
		}
		if sb.SteppedDown {
			who = "this node stepped down (held in FAULT)"
		}
		fmt.Fprintf(w, "  %s VRID %d (%s): MASTER on both nodes since %s, priority %d here / %d peer; %s\n",
			paint(red, "SPLIT BRAIN"), sb.VRID, sb.Instance, sb.Since.Format("15:04:05"), sb.LocalPriority, sb.PeerPriority, who)
	}
	if len(p.PeerVRRP) > 0 {
		local := map[int]control.VRRPStatus{}
		for _, v := range st.VRRP {
			local[v.VRID] = v
		}
		t := &table{}
		t.add("VRID", "INSTANCE", "THIS NODE", "PEER", "PEER PRIO")
		for _, v := range p.PeerVRRP {
			here := "-"
			if l, ok := local[v.VRID]; ok {
				here = l.State
			}
			t.addc([]string{"", "", stateColour(here), stateColour(v.State)}, fmt.Sprint(v.VRID), v.Name, here, v.State, fmt.Sprintf("%d/%d", v.Priority, v.Base))
		}
		t.write(w, "  ", colour)
	}
	// Servers whose state differs between the nodes: a server DOWN from
	// one node only is a network problem worth seeing.
	peerSrv := map[string]string{}
	for _, s := range p.PeerServers {
		peerSrv[s.Backend+"/"+s.Server] = s.State
	}
	var diff []string
	for _, b := range st.Backends {
		for _, s := range b.Servers {
			k := b.Name + "/" + s.Name
			if ps, ok := peerSrv[k]; ok && ps != s.State {
				diff = append(diff, fmt.Sprintf("%s %s here, %s on the peer", k, s.State, ps))
			}
		}
	}
	sort.Strings(diff)
	for _, d := range diff {
		fmt.Fprintf(w, "  server %s\n", d)
	}
	if r := formatDrops(p.Refused); r != "" {
		fmt.Fprintf(w, "  refused: %s\n", r)
	}
	if p.SplitBrainTotal > 0 && len(p.SplitBrain) == 0 {
		fmt.Fprintf(w, "  split brains seen: %d (none now)\n", p.SplitBrainTotal)
	}
}

// ticketLine is the session ticket keys line: ids only, never a key.
func ticketLine(tk *control.PairTickets, paint func(code, s string) string) string {
	switch {
	case tk.Shared && tk.Role == "owner":
		return fmt.Sprintf("session tickets: shared with peer: %s (key id %s, this node owns and rotates the keys)", paint(green, "yes"), tk.KeyID)
	case tk.Shared:
		return fmt.Sprintf("session tickets: shared with peer: %s (key id %s, the peer owns and rotates the keys)", paint(green, "yes"), tk.KeyID)
	case tk.Role == "local":
		return fmt.Sprintf("session tickets: shared with peer: %s (link down: this node rotates its own keys, key id %s)", paint(yellow, "no"), tk.KeyID)
	}
	why := "waiting for the owner's keys"
	if tk.PeerKeyID == "" {
		why = "the peer sends no ticket keys (no TLS bind, or an older lbd)"
	}
	if tk.LastError != "" {
		why = tk.LastError
	}
	return fmt.Sprintf("session tickets: shared with peer: %s (key id %s here, %s on the peer: %s)", paint(yellow, "no"), tk.KeyID, orDash(tk.PeerKeyID), why)
}
