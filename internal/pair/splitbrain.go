package pair

import "github.com/lbd-ha/lbd/internal/control"

// StepsDown applies the split-brain rule: the node with the lower effective
// priority yields; on equal priorities the node whose identity fingerprint
// sorts lower yields (both nodes know both fingerprints, so both reach the
// same answer without talking further). It returns "this node" or "peer".
func StepsDown(localPrio, peerPrio int, localFP, peerFP string) string {
	switch {
	case localPrio < peerPrio:
		return "this node"
	case localPrio > peerPrio:
		return "peer"
	case localFP < peerFP:
		return "this node"
	}
	return "peer"
}

// evalSplit looks for VRIDs both nodes report as MASTER while the link is
// up. A VRID must be seen so on two rounds in a row (an interval apart) to
// count: during an ordinary takeover both nodes may be master for one
// advert interval. A VRID the peer has confirmed counts at once while this
// node is master for it (the peer may step down before this node's second
// round: both nodes still report it). A round counts only with a presence
// received since the previous one, so that a dead peer's last word (MASTER)
// does not make the node that took over step down.
func (l *Link) evalSplit() {
	now := l.opts.Now()
	pin := l.pin.Load()
	l.mu.Lock()
	up := pin != nil && !l.lastContact.IsZero() && now.Sub(l.lastContact) <= l.stale()
	if up && l.peerN == l.evalN {
		// No presence from the peer since the last round: what it said
		// then may predate this node's own transition (the peer just
		// died, and this node took over). Judge only fresh news.
		l.mu.Unlock()
		return
	}
	l.evalN = l.peerN
	both := map[int][2]control.PairVRRP{}
	peerSaid := map[int]bool{}
	if up && l.local != nil && l.peer != nil {
		for _, v := range l.peer.SplitBrain {
			peerSaid[v] = true
		}
		for _, a := range l.local.VRRP {
			if a.State != "MASTER" {
				continue
			}
			for _, b := range l.peer.VRRP {
				if b.VRID == a.VRID && (b.State == "MASTER" || peerSaid[a.VRID]) {
					both[a.VRID] = [2]control.PairVRRP{a, b}
				}
			}
		}
	}
	var confirmed []*control.SplitBrain
	var ended []int
	for vrid := range l.split {
		if _, ok := both[vrid]; !ok {
			ended = append(ended, vrid)
			delete(l.split, vrid)
		}
	}
	pending := map[int]bool{}
	for vrid, ab := range both {
		if sb, ok := l.split[vrid]; ok {
			sb.LocalPriority, sb.PeerPriority = ab[0].Priority, ab[1].Priority
			continue
		}
		if !l.pending[vrid] && !peerSaid[vrid] {
			pending[vrid] = true
			continue
		}
		sb := &control.SplitBrain{VRID: vrid, Instance: ab[0].Name, Since: now,
			LocalPriority: ab[0].Priority, PeerPriority: ab[1].Priority}
		if pin != nil {
			sb.StepsDown = StepsDown(ab[0].Priority, ab[1].Priority, l.id.Fingerprint, pin.Fingerprint)
		}
		l.split[vrid] = sb
		l.splitTotal++
		c := *sb
		confirmed = append(confirmed, &c)
	}
	l.pending = pending
	l.mu.Unlock()

	for _, vrid := range ended {
		l.log.Warn("pair: split brain over: one master again", "vrid", vrid)
	}
	for _, sb := range confirmed {
		l.log.Error("pair: SPLIT BRAIN: both nodes are MASTER for the same VRID while the pair link is up (VRRP adverts are not getting through: multicast or protocol 112 blocked?)",
			"vrid", sb.VRID, "instance", sb.Instance, "local_priority", sb.LocalPriority, "peer_priority", sb.PeerPriority, "steps_down", sb.StepsDown)
		if sb.StepsDown == "this node" && l.opts.StepDown != nil && l.opts.StepDown(sb.Instance) {
			l.mu.Lock()
			if cur, ok := l.split[sb.VRID]; ok {
				cur.SteppedDown = true
			}
			l.mu.Unlock()
			l.log.Warn("pair: this node stepped down (instance held in FAULT) to end the split brain", "vrid", sb.VRID, "instance", sb.Instance)
		}
	}
}
