package proxy

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// StickTable is a table of per-key counters (HAProxy's stick-table) that
// track-sc rules fill and sc_*/src_* fetches read. Its memory is bounded:
// at most Size entries; a new key evicts the least recently used entry not
// in use by a connection or request, and when every entry is in use the new
// key is simply not tracked.
type StickTable struct {
	// Name is what track-sc rules, src_*(NAME) fetches and `lbctl table
	// show` use. Unique per Config.
	Name string
	// Size is the maximum number of entries. Required (> 0).
	Size int
	// Expire drops an entry not touched for this long. Required.
	Expire time.Duration
	// Store lists the counters kept: conn_cur, conn_cnt, conn_rate(PERIOD),
	// http_req_cnt, http_req_rate(PERIOD), http_err_cnt,
	// http_err_rate(PERIOD), bytes_in_rate(PERIOD), bytes_out_rate(PERIOD)
	// (PERIOD: a Go duration or HAProxy's 10s, 1m). Fetches of a counter not
	// stored do not match.
	Store []string
}

// Counter indexes.
const (
	ctrConnCur = iota
	ctrConnCnt
	ctrConnRate
	ctrReqCnt
	ctrReqRate
	ctrErrCnt
	ctrErrRate
	ctrBytesInRate
	ctrBytesOutRate
	numCtrs
)

var ctrNames = [numCtrs]string{"conn_cur", "conn_cnt", "conn_rate", "http_req_cnt", "http_req_rate", "http_err_cnt", "http_err_rate", "bytes_in_rate", "bytes_out_rate"}

func ctrIsRate(i int) bool {
	return i == ctrConnRate || i == ctrReqRate || i == ctrErrRate || i == ctrBytesInRate || i == ctrBytesOutRate
}

// rateCtr is a sliding-window event rate as HAProxy computes it: the
// current period's count plus the previous period's, weighted by the part
// of the previous period still inside the window.
type rateCtr struct {
	start      int64 // start of the current period, unix ns
	curr, prev uint64
}

func (r *rateCtr) rotate(now, period int64) {
	if now-r.start < period {
		return
	}
	if now-r.start < 2*period {
		r.prev = r.curr
		r.start += period
	} else {
		r.prev = 0
		r.start = now - (now-r.start)%period
	}
	r.curr = 0
}

func (r *rateCtr) add(now, period int64, n uint64) {
	r.rotate(now, period)
	r.curr += n
}

func (r *rateCtr) rate(now, period int64) uint64 {
	r.rotate(now, period)
	left := period - (now - r.start)
	if left < 0 {
		left = 0
	}
	return r.curr + uint64(float64(r.prev)*float64(left)/float64(period))
}

type stickEntry struct {
	addr       netip.Addr
	skey       string
	prev, next *stickEntry // LRU list, most recent first
	touched    int64
	refs       int32
	t          *stickTable     // the table or shard that holds the entry
	cnt        [numCtrs]uint64 // conn_cur, conn_cnt, http_req_cnt, http_err_cnt
	rates      [numCtrs]rateCtr
	// dirty: changed since the pair sender last took it; the entry is
	// then on its shard's dirty list (dprev, dnext). Only with the pair
	// (stick_sync.go).
	dirty        bool
	dprev, dnext *stickEntry
	// peer is the pair peer's part of the counters, nil until the peer
	// sent some; fetches return the local part plus this.
	peer *stickPeer
}

// stickTable is a compiled StickTable, shared by every frontend that
// refers to it and kept across reloads while its definition is unchanged.
type stickTable struct {
	name   string
	size   int
	expire int64
	store  [numCtrs]bool
	period [numCtrs]int64
	sig    string // definition, to keep the table across reloads
	// sub are the shards of a large table (size >= shardMin): each holds
	// its share of the size, with its own lock and LRU list; a key always
	// goes to the same shard. nil: the table is one shard, itself.
	sub []*stickTable

	mu         sync.Mutex
	byAddr     map[netip.Addr]*stickEntry
	byStr      map[string]*stickEntry
	head, tail *stickEntry
	n          int
	free       *stickEntry // recycled entries (evicted ones)
	evictions  uint64
	untracked  uint64 // keys not tracked because every entry was in use

	// syncOn: the pair sender reads this shard; changed entries go on the
	// dirty list (dhead first taken). stick_sync.go.
	syncOn       bool
	dhead, dtail *stickEntry
	// syncSent, syncRecv count entries sent to and merged from the peer
	// (on the table, not the shards).
	syncSent, syncRecv atomic.Uint64
}

// ParseDurationHA parses a Go duration or HAProxy's plain units (10s, 1m,
// 100ms, 2h, 1d; a bare number is milliseconds).
func ParseDurationHA(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

func compileStickTable(t StickTable) (*stickTable, error) {
	if t.Name == "" {
		return nil, fmt.Errorf("stick table with empty name")
	}
	if t.Size <= 0 {
		return nil, fmt.Errorf("stick table %s: size must be > 0", t.Name)
	}
	if t.Expire <= 0 {
		return nil, fmt.Errorf("stick table %s: expire must be > 0", t.Name)
	}
	st := &stickTable{name: t.Name, size: t.Size, expire: int64(t.Expire),
		byAddr: map[netip.Addr]*stickEntry{}, byStr: map[string]*stickEntry{}}
	for _, s := range t.Store {
		name, arg, _ := strings.Cut(strings.TrimSpace(s), "(")
		idx := -1
		for i, n := range ctrNames {
			if n == name {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("stick table %s: unknown store %q (known: %s)", t.Name, s, strings.Join(ctrNames[:], ", "))
		}
		if ctrIsRate(idx) {
			if !strings.HasSuffix(arg, ")") {
				return nil, fmt.Errorf("stick table %s: %s needs a period, e.g. %s(10s)", t.Name, name, name)
			}
			d, err := ParseDurationHA(strings.TrimSuffix(arg, ")"))
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("stick table %s: %s: bad period %q", t.Name, name, arg)
			}
			st.period[idx] = int64(d)
		} else if arg != "" {
			return nil, fmt.Errorf("stick table %s: %s takes no period", t.Name, name)
		}
		st.store[idx] = true
	}
	st.sig = fmt.Sprintf("%d|%d|%v|%v", st.size, st.expire, st.store, st.period)
	if st.size >= shardMin {
		st.sub = make([]*stickTable, tableShards)
		for i := range st.sub {
			n := st.size / tableShards
			if i < st.size%tableShards {
				n++
			}
			st.sub[i] = &stickTable{name: st.name, size: n, expire: st.expire, store: st.store, period: st.period,
				byAddr: map[netip.Addr]*stickEntry{}, byStr: map[string]*stickEntry{}}
		}
	}
	return st, nil
}

// Large tables are split in tableShards shards so that concurrent
// requests of different clients rarely wait on the same lock; the sizes
// of the shards add up to the table's size. Small tables keep one exact
// LRU list.
const (
	tableShards = 16
	shardMin    = 1024
)

// shard returns the shard of a key.
func (t *stickTable) shard(a netip.Addr, s []byte) *stickTable {
	if t.sub == nil {
		return t
	}
	h := uint32(2166136261)
	if s != nil {
		for _, c := range s {
			h = (h ^ uint32(c)) * 16777619
		}
	} else {
		b := a.As16()
		for _, c := range b {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	return t.sub[h%tableShards]
}

// shards returns the shards, or the table itself.
func (t *stickTable) shards() []*stickTable {
	if t.sub == nil {
		return []*stickTable{t}
	}
	return t.sub
}

func (t *stickTable) unlink(e *stickEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (t *stickTable) pushFront(e *stickEntry) {
	e.next = t.head
	if t.head != nil {
		t.head.prev = e
	}
	t.head = e
	if t.tail == nil {
		t.tail = e
	}
}

func (t *stickTable) remove(e *stickEntry) {
	t.unlink(e)
	t.undirty(e)
	if e.skey != "" {
		delete(t.byStr, e.skey)
	} else {
		delete(t.byAddr, e.addr)
	}
	t.n--
}

// expired reports whether e has not been touched within the expiry.
func (t *stickTable) expired(e *stickEntry, now int64) bool {
	return e.refs == 0 && now-e.touched > t.expire
}

// getLocked returns the entry for the key, creating it (evicting the least
// recently used idle entry when full); nil when every entry is in use. An
// expired entry starts afresh. t.mu is held.
func (t *stickTable) getLocked(a netip.Addr, s []byte, now int64) *stickEntry {
	var e *stickEntry
	if s != nil {
		e = t.byStr[string(s)]
	} else {
		e = t.byAddr[a]
	}
	if e != nil {
		if t.expired(e, now) {
			t.undirty(e)
			*e = stickEntry{addr: e.addr, skey: e.skey, prev: e.prev, next: e.next, t: e.t}
		}
		if t.head != e {
			t.unlink(e)
			t.pushFront(e)
		}
		e.touched = now
		return e
	}
	if t.n >= t.size {
		// Evict the least recently used entry nobody holds.
		v := t.tail
		for i := 0; v != nil && v.refs > 0 && i < 64; i++ {
			v = v.prev
		}
		if v == nil || v.refs > 0 {
			t.untracked++
			return nil
		}
		t.remove(v)
		t.evictions++
		e = v
		*e = stickEntry{}
	} else if t.free != nil {
		e, t.free = t.free, nil
	} else {
		e = &stickEntry{}
	}
	if s != nil {
		e.skey = string(s)
		t.byStr[e.skey] = e
	} else {
		e.addr = a
		t.byAddr[a] = e
	}
	e.touched = now
	e.t = t
	t.pushFront(e)
	t.n++
	return e
}

// lookup returns a counter of the entry for a key without creating it.
func (t *stickTable) lookup(a netip.Addr, ctr int, now int64) (uint64, bool) {
	if !t.store[ctr] {
		return 0, false
	}
	t = t.shard(a, nil)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byAddr[a]
	if e == nil || t.expired(e, now) {
		return 0, true
	}
	return t.valueLocked(e, ctr, now), true
}

// valueLocked is what fetches see: this node's part plus the peer's.
func (t *stickTable) valueLocked(e *stickEntry, ctr int, now int64) uint64 {
	v := t.localLocked(e, ctr, now)
	if e.peer != nil {
		v += e.peer.value(ctr, now, t.period[ctr])
	}
	return v
}

// localLocked is this node's own part of a counter.
func (t *stickTable) localLocked(e *stickEntry, ctr int, now int64) uint64 {
	if ctrIsRate(ctr) {
		return e.rates[ctr].rate(now, t.period[ctr])
	}
	return e.cnt[ctr]
}

// addLocked records n events of a counter (and its count twin).
func (t *stickTable) addLocked(e *stickEntry, ctr int, n uint64, now int64) {
	if t.store[ctr] {
		if ctrIsRate(ctr) {
			e.rates[ctr].add(now, t.period[ctr], n)
		} else {
			e.cnt[ctr] += n
		}
		if t.syncOn && !e.dirty {
			t.markDirty(e)
		}
	}
}

// track takes a reference on the key's entry and counts a new connection
// or request on it; nil when the key could not be tracked.
func (t *stickTable) track(a netip.Addr, s []byte, conn bool) *stickEntry {
	t = t.shard(a, s)
	now := time.Now().UnixNano()
	t.mu.Lock()
	e := t.getLocked(a, s, now)
	if e != nil {
		e.refs++
		e.cnt[ctrConnCur]++
		if conn {
			t.addLocked(e, ctrConnCnt, 1, now)
			t.addLocked(e, ctrConnRate, 1, now)
		}
		if !conn {
			t.addLocked(e, ctrReqCnt, 1, now)
			t.addLocked(e, ctrReqRate, 1, now)
		}
	}
	t.mu.Unlock()
	return e
}

// release drops a reference taken by track, counting the exchange's
// outcome (status 0: a connection).
func (t *stickTable) release(e *stickEntry, status int, in, out uint64) {
	t = e.t
	now := time.Now().UnixNano()
	t.mu.Lock()
	e.refs--
	e.cnt[ctrConnCur]--
	e.touched = now
	if status >= 400 && status < 500 {
		t.addLocked(e, ctrErrCnt, 1, now)
		t.addLocked(e, ctrErrRate, 1, now)
	}
	if in > 0 {
		t.addLocked(e, ctrBytesInRate, in, now)
	}
	if out > 0 {
		t.addLocked(e, ctrBytesOutRate, out, now)
	}
	t.mu.Unlock()
}

// value reads a counter of an entry the caller holds.
func (t *stickTable) value(e *stickEntry, ctr int) (uint64, bool) {
	if !t.store[ctr] {
		return 0, false
	}
	t = e.t
	now := time.Now().UnixNano()
	t.mu.Lock()
	v := t.valueLocked(e, ctr, now)
	t.mu.Unlock()
	return v, true
}

// TableEntry is one stick-table entry as `lbctl table show` lists it.
type TableEntry struct {
	Key      string
	Expire   time.Duration // time left before expiry
	Refs     int
	Counters map[string]uint64 // the stored counters by name: this node's part plus the peer's
	// Peer is the pair peer's part of Counters (nil: the peer sent
	// nothing for this key). conn_cur is never in it: live connections
	// are per node.
	Peer map[string]uint64
}

// TableStatus describes a stick table.
type TableStatus struct {
	Name      string
	Size      int
	Used      int
	Evictions uint64
	Untracked uint64
	// PeerSent and PeerReceived count the entry updates sent to the pair
	// peer and merged from it.
	PeerSent, PeerReceived uint64
	Entries                []TableEntry // the top entries
}

// maxTableShow bounds the entries Table returns.
const maxTableShow = 10000

// Table returns the named table with its top entries (at most max, and at
// most 10000; zero: up to 10000), busiest first by the first stored
// counter of: http_req_rate, conn_cur, conn_rate, http_err_rate,
// http_req_cnt, conn_cnt, bytes_in_rate, bytes_out_rate. One pass over the
// table under its lock keeps only the top entries (no allocation per
// entry), so listing a large table does not stall the traffic for long.
func (e *Engine) Table(name string, max int) (TableStatus, error) {
	g := e.gen.Load()
	t := g.tables[name]
	if t == nil {
		return TableStatus{}, &NameError{fmt.Sprintf("unknown table %q (known: %s)", name, strings.Join(sortedKeys(g.tables), ", "))}
	}
	if max <= 0 || max > maxTableShow {
		max = maxTableShow
	}
	by := -1
	for _, o := range []int{ctrReqRate, ctrConnCur, ctrConnRate, ctrErrRate, ctrReqCnt, ctrConnCnt, ctrBytesInRate, ctrBytesOutRate} {
		if t.store[o] && by < 0 {
			by = o
		}
	}
	type ranked struct {
		v uint64
		e *stickEntry
	}
	now := time.Now().UnixNano()
	st := TableStatus{Name: t.name, Size: t.size, PeerSent: t.syncSent.Load(), PeerReceived: t.syncRecv.Load()}
	var all []TableEntry
	var vals []uint64
	for _, sh := range t.shards() {
		sh.mu.Lock()
		st.Evictions += sh.evictions
		st.Untracked += sh.untracked
		// top is kept sorted, busiest first; an entry goes in by insertion.
		top := make([]ranked, 0, min(max, sh.n))
		for en := sh.head; en != nil; en = en.next {
			if sh.expired(en, now) {
				continue
			}
			st.Used++
			var v uint64
			if by >= 0 {
				v = sh.valueLocked(en, by, now)
			}
			if len(top) == max && v <= top[len(top)-1].v {
				continue
			}
			i := sort.Search(len(top), func(i int) bool { return top[i].v < v })
			if len(top) < max {
				top = append(top, ranked{})
			}
			copy(top[i+1:], top[i:len(top)-1])
			top[i] = ranked{v, en}
		}
		for _, r := range top {
			en := r.e
			te := TableEntry{Key: en.skey, Refs: int(en.refs), Expire: time.Duration(sh.expire - (now - en.touched)), Counters: map[string]uint64{}}
			if te.Key == "" {
				te.Key = en.addr.String()
			}
			for i := range ctrNames {
				if sh.store[i] {
					te.Counters[ctrNames[i]] = sh.valueLocked(en, i, now)
					if en.peer != nil && i != ctrConnCur {
						if te.Peer == nil {
							te.Peer = map[string]uint64{}
						}
						te.Peer[ctrNames[i]] = en.peer.value(i, now, sh.period[i])
					}
				}
			}
			all = append(all, te)
			vals = append(vals, r.v)
		}
		sh.mu.Unlock()
	}
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return vals[idx[i]] > vals[idx[j]] })
	for _, i := range idx {
		if len(st.Entries) == max {
			break
		}
		st.Entries = append(st.Entries, all[i])
	}
	return st, nil
}

// Tables lists the table names.
func (e *Engine) Tables() []string { return sortedKeys(e.gen.Load().tables) }

// CheckStickTable reports what New would refuse in a table definition.
func CheckStickTable(t StickTable) error {
	_, err := compileStickTable(t)
	return err
}
