package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Stick-table replication over the pair link (docs/pair.md#stick-tables).
//
// Each node sends the entries whose counters changed since its last send,
// with this node's own part of the counters only (never what it got from
// the peer, so nothing echoes back). The receiver keeps what the peer sent
// as the entry's peer part, replacing the previous one, and fetches return
// the local part plus the peer part. conn_cur is not sent: live
// connections belong to the node that holds them.
//
// The change set costs nothing per request beyond a flag and two pointers:
// an entry whose counters change goes once on its shard's intrusive dirty
// list, which the sender drains under the shard's lock. Without a pair the
// shards are never switched on and nothing is listed.

// stickPeer is the peer's part of an entry's counters.
type stickPeer struct {
	cnt   [numCtrs]uint64
	rates [numCtrs]rateCtr
}

func (p *stickPeer) value(ctr int, now, period int64) uint64 {
	if ctrIsRate(ctr) {
		return p.rates[ctr].rate(now, period)
	}
	return p.cnt[ctr]
}

// markDirty puts e at the end of the shard's dirty list. t.mu is held.
func (t *stickTable) markDirty(e *stickEntry) {
	e.dirty = true
	e.dprev, e.dnext = t.dtail, nil
	if t.dtail != nil {
		t.dtail.dnext = e
	} else {
		t.dhead = e
	}
	t.dtail = e
}

// undirty takes e off the dirty list. t.mu is held.
func (t *stickTable) undirty(e *stickEntry) {
	if !e.dirty {
		return
	}
	if e.dprev != nil {
		e.dprev.dnext = e.dnext
	} else {
		t.dhead = e.dnext
	}
	if e.dnext != nil {
		e.dnext.dprev = e.dprev
	} else {
		t.dtail = e.dprev
	}
	e.dirty, e.dprev, e.dnext = false, nil, nil
}

// syncCounters are the counters that travel: every stored one but
// conn_cur.
func (t *stickTable) syncCounters() []int {
	var out []int
	for i := range ctrNames {
		if t.store[i] && i != ctrConnCur {
			out = append(out, i)
		}
	}
	return out
}

// Wire format, version 1 (all integers unsigned varints unless said):
//
//	"LBS1"
//	tables
//	per table: name length, name; counters; per counter: index (byte),
//	  period in ns (0 for a count); entries;
//	  per entry: key kind (byte: 4 IPv4, 6 IPv6, 's' string), the key
//	  (4 or 16 bytes, or length and bytes), then per counter: a rate's
//	  age of its current period in ns, current and previous period
//	  counts; a count's value.
//
// Ages, not times, so the two clocks need not agree.
const (
	stickMagic = "LBS1"
	// MaxStickKey bounds a string key on the wire.
	maxStickKey = 1024
	// maxStickTables bounds the tables of one message.
	maxStickTables = 256
)

// StickSync sends this node's stick-table changes to the pair peer and
// merges the peer's. It is safe for concurrent use.
type StickSync struct {
	e *Engine

	mu     sync.Mutex
	cursor int // table to start the next batch with (fairness)
	stats  StickSyncStats
}

// StickSyncStats counts what the sync did.
type StickSyncStats struct {
	// Sent and Received: entry updates sent and merged.
	Sent, Received uint64
	// UnknownTable: updates for a table this node does not have.
	UnknownTable uint64
	// Dropped: updates not merged because every entry of the table was
	// in use (the size bound holds).
	Dropped uint64
	// Mismatch: counters skipped because this node does not store them,
	// or with another period.
	Mismatch uint64
	// Malformed: messages refused whole.
	Malformed uint64
}

// NewStickSync returns the sync of an engine's stick tables.
func NewStickSync(e *Engine) *StickSync {
	return &StickSync{e: e}
}

// Stats returns the counters.
func (s *StickSync) Stats() StickSyncStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *StickSync) tables() []*stickTable {
	g := s.e.gen.Load()
	if g == nil {
		return nil
	}
	names := sortedKeys(g.tables)
	out := make([]*stickTable, 0, len(names))
	for _, n := range names {
		out = append(out, g.tables[n])
	}
	return out
}

// enable switches change tracking on for a shard, listing every live
// entry once (the peer gets the whole table). t.mu is held.
func (t *stickTable) enable() {
	if t.syncOn {
		return
	}
	t.syncOn = true
	for e := t.head; e != nil; e = e.next {
		if !e.dirty {
			t.markDirty(e)
		}
	}
}

// MarkAll lists every entry again, so the next batches send the whole
// tables: after the peer (re)started or a batch was lost.
func (s *StickSync) MarkAll() {
	for _, t := range s.tables() {
		for _, sh := range t.shards() {
			sh.mu.Lock()
			sh.enable()
			for e := sh.head; e != nil; e = e.next {
				if !e.dirty {
					sh.markDirty(e)
				}
			}
			sh.mu.Unlock()
		}
	}
}

// Collect takes up to maxEntries changed entries, in at most maxBytes
// (roughly), off the dirty lists and encodes them; nil when nothing
// changed. What does not fit stays listed for the next call. The first
// call switches change tracking on.
func (s *StickSync) Collect(maxEntries, maxBytes int) []byte {
	ts := s.tables()
	if len(ts) == 0 {
		return nil
	}
	s.mu.Lock()
	start := s.cursor % len(ts)
	s.cursor++
	s.mu.Unlock()
	now := time.Now().UnixNano()
	var body []byte
	ntables, total := 0, 0
	for k := 0; k < len(ts); k++ {
		t := ts[(start+k)%len(ts)]
		ctrs := t.syncCounters()
		var tb []byte
		n := 0
		for _, sh := range t.shards() {
			sh.mu.Lock()
			sh.enable()
			for total < maxEntries && len(body)+len(tb) < maxBytes && sh.dhead != nil {
				e := sh.dhead
				sh.undirty(e)
				if sh.expired(e, now) {
					continue
				}
				tb = appendStickEntry(tb, sh, e, ctrs, now)
				n++
				total++
			}
			sh.mu.Unlock()
		}
		if n == 0 {
			continue
		}
		t.syncSent.Add(uint64(n))
		body = binary.AppendUvarint(body, uint64(len(t.name)))
		body = append(body, t.name...)
		body = binary.AppendUvarint(body, uint64(len(ctrs)))
		for _, c := range ctrs {
			body = append(body, byte(c))
			body = binary.AppendUvarint(body, uint64(t.period[c]))
		}
		body = binary.AppendUvarint(body, uint64(n))
		body = append(body, tb...)
		ntables++
		if total >= maxEntries || len(body) >= maxBytes || ntables == maxStickTables {
			break
		}
	}
	if ntables == 0 {
		return nil
	}
	s.mu.Lock()
	s.stats.Sent += uint64(total)
	s.mu.Unlock()
	msg := append([]byte(stickMagic), binary.AppendUvarint(nil, uint64(ntables))...)
	return append(msg, body...)
}

func appendStickEntry(b []byte, t *stickTable, e *stickEntry, ctrs []int, now int64) []byte {
	switch {
	case e.skey != "":
		k := e.skey
		if len(k) > maxStickKey {
			k = k[:maxStickKey]
		}
		b = append(b, 's')
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	case e.addr.Is4():
		a := e.addr.As4()
		b = append(b, 4)
		b = append(b, a[:]...)
	default:
		a := e.addr.As16()
		b = append(b, 6)
		b = append(b, a[:]...)
	}
	for _, c := range ctrs {
		if ctrIsRate(c) {
			r := &e.rates[c]
			r.rotate(now, t.period[c])
			age := now - r.start
			if r.start == 0 || age < 0 {
				age = 0
			}
			b = binary.AppendUvarint(b, uint64(age))
			b = binary.AppendUvarint(b, r.curr)
			b = binary.AppendUvarint(b, r.prev)
		} else {
			b = binary.AppendUvarint(b, e.cnt[c])
		}
	}
	return b
}

// stickUpdate is one decoded table of a message.
type stickUpdate struct {
	name    string
	ctrs    []int
	periods []int64
	entries []stickUpdateEntry
}

type stickUpdateEntry struct {
	addr netip.Addr
	skey string
	vals []uint64 // per counter: age, curr, prev for a rate; the value of a count
}

var errStickMsg = errors.New("malformed stick-table message")

type stickReader struct {
	b []byte
}

func (r *stickReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errStickMsg
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *stickReader) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)) {
		return nil, errStickMsg
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

// decodeStick parses a whole message; any error refuses all of it.
func decodeStick(msg []byte) ([]stickUpdate, error) {
	if len(msg) < len(stickMagic) || string(msg[:len(stickMagic)]) != stickMagic {
		return nil, fmt.Errorf("%w: bad magic", errStickMsg)
	}
	r := &stickReader{b: msg[len(stickMagic):]}
	nt, err := r.uvarint()
	if err != nil || nt > maxStickTables {
		return nil, fmt.Errorf("%w: table count", errStickMsg)
	}
	var out []stickUpdate
	for i := uint64(0); i < nt; i++ {
		var u stickUpdate
		ln, err := r.uvarint()
		if err != nil || ln == 0 || ln > 256 {
			return nil, fmt.Errorf("%w: table name", errStickMsg)
		}
		name, err := r.bytes(ln)
		if err != nil {
			return nil, fmt.Errorf("%w: table name", errStickMsg)
		}
		u.name = string(name)
		nc, err := r.uvarint()
		if err != nil || nc > numCtrs {
			return nil, fmt.Errorf("%w: counters", errStickMsg)
		}
		width := 0
		seen := [numCtrs]bool{}
		for j := uint64(0); j < nc; j++ {
			cb, err := r.bytes(1)
			if err != nil || int(cb[0]) >= numCtrs || cb[0] == ctrConnCur || seen[cb[0]] {
				return nil, fmt.Errorf("%w: counter", errStickMsg)
			}
			c := int(cb[0])
			seen[c] = true
			p, err := r.uvarint()
			if err != nil || p > uint64(1<<62) || (ctrIsRate(c) != (p > 0)) {
				return nil, fmt.Errorf("%w: period", errStickMsg)
			}
			u.ctrs = append(u.ctrs, c)
			u.periods = append(u.periods, int64(p))
			if ctrIsRate(c) {
				width += 3
			} else {
				width++
			}
		}
		ne, err := r.uvarint()
		if err != nil || ne > uint64(len(r.b)) {
			return nil, fmt.Errorf("%w: entry count", errStickMsg)
		}
		for j := uint64(0); j < ne; j++ {
			var en stickUpdateEntry
			kb, err := r.bytes(1)
			if err != nil {
				return nil, fmt.Errorf("%w: key", errStickMsg)
			}
			switch kb[0] {
			case 4:
				a, err := r.bytes(4)
				if err != nil {
					return nil, fmt.Errorf("%w: key", errStickMsg)
				}
				en.addr = netip.AddrFrom4([4]byte(a))
			case 6:
				a, err := r.bytes(16)
				if err != nil {
					return nil, fmt.Errorf("%w: key", errStickMsg)
				}
				en.addr = netip.AddrFrom16([16]byte(a))
			case 's':
				kl, err := r.uvarint()
				if err != nil || kl == 0 || kl > maxStickKey {
					return nil, fmt.Errorf("%w: key", errStickMsg)
				}
				k, err := r.bytes(kl)
				if err != nil {
					return nil, fmt.Errorf("%w: key", errStickMsg)
				}
				en.skey = string(k)
			default:
				return nil, fmt.Errorf("%w: key kind", errStickMsg)
			}
			en.vals = make([]uint64, width)
			for k := range en.vals {
				if en.vals[k], err = r.uvarint(); err != nil {
					return nil, fmt.Errorf("%w: counter value", errStickMsg)
				}
			}
			u.entries = append(u.entries, en)
		}
		out = append(out, u)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", errStickMsg)
	}
	return out, nil
}

// StickApplied is what Apply did with a message.
type StickApplied struct {
	Received     int
	UnknownTable int
	Dropped      int
	Mismatch     int
	// Unknown names the tables this node does not have.
	Unknown []string
}

// Apply merges a message from the pair peer: for each entry, the peer's
// part of its counters is replaced by the message's. A new key takes an
// entry as local traffic would (evicting the least recently used idle
// entry when full), so the table's size bound holds; the merge refreshes
// the entry's expiry. A malformed message is refused whole. The caller
// (the pair link) guarantees that it comes from the authenticated pinned
// peer.
func (s *StickSync) Apply(msg []byte) (StickApplied, error) {
	var res StickApplied
	ups, err := decodeStick(msg)
	if err != nil {
		s.mu.Lock()
		s.stats.Malformed++
		s.mu.Unlock()
		return res, err
	}
	g := s.e.gen.Load()
	now := time.Now().UnixNano()
	for i := range ups {
		u := &ups[i]
		var t *stickTable
		if g != nil {
			t = g.tables[u.name]
		}
		if t == nil {
			res.UnknownTable += len(u.entries)
			res.Unknown = append(res.Unknown, u.name)
			continue
		}
		// Which counters of the message this table keeps.
		use := make([]bool, len(u.ctrs))
		for j, c := range u.ctrs {
			use[j] = t.store[c] && t.period[c] == u.periods[j]
			if !use[j] {
				res.Mismatch++
			}
		}
		n := 0
		for k := range u.entries {
			en := &u.entries[k]
			var key []byte
			if en.skey != "" {
				key = []byte(en.skey)
			}
			sh := t.shard(en.addr, key)
			sh.mu.Lock()
			e := sh.getLocked(en.addr, key, now)
			if e == nil {
				sh.mu.Unlock()
				res.Dropped++
				continue
			}
			if e.peer == nil {
				e.peer = &stickPeer{}
			}
			v := en.vals
			for j, c := range u.ctrs {
				if ctrIsRate(c) {
					age, curr, prev := v[0], v[1], v[2]
					v = v[3:]
					if !use[j] {
						continue
					}
					p := t.period[c]
					if age >= uint64(2*p) {
						e.peer.rates[c] = rateCtr{}
						continue
					}
					e.peer.rates[c] = rateCtr{start: now - int64(age), curr: curr, prev: prev}
				} else {
					val := v[0]
					v = v[1:]
					if use[j] {
						e.peer.cnt[c] = val
					}
				}
			}
			sh.mu.Unlock()
			n++
		}
		t.syncRecv.Add(uint64(n))
		res.Received += n
	}
	sort.Strings(res.Unknown)
	s.mu.Lock()
	s.stats.Received += uint64(res.Received)
	s.stats.UnknownTable += uint64(res.UnknownTable)
	s.stats.Dropped += uint64(res.Dropped)
	s.stats.Mismatch += uint64(res.Mismatch)
	s.mu.Unlock()
	return res, nil
}
