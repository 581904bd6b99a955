package proxy

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// syncEngine is an engine holding only the given stick tables.
func syncEngine(t testing.TB, tables ...StickTable) (*Engine, map[string]*stickTable) {
	t.Helper()
	g := &generation{tables: map[string]*stickTable{}}
	for _, tc := range tables {
		st, err := compileStickTable(tc)
		if err != nil {
			t.Fatal(err)
		}
		g.tables[st.name] = st
	}
	e := &Engine{}
	e.gen.Store(g)
	return e, g.tables
}

func reqs(st *stickTable, a netip.Addr, n int) {
	for i := 0; i < n; i++ {
		if e := st.track(a, nil, false); e != nil {
			st.release(e, 200, 0, 0)
		}
	}
}

var syncTableDef = StickTable{Name: "fe", Size: 100, Expire: time.Minute, Store: []string{"http_req_rate(10s)", "http_req_cnt", "conn_cur"}}

// TestStickSyncSum: requests counted on A appear in B's http_req_rate
// after a sync, added to B's own; B's part does not echo back to A.
func TestStickSyncSum(t *testing.T) {
	ea, ta := syncEngine(t, syncTableDef)
	eb, tb := syncEngine(t, syncTableDef)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	// The first Collect switches tracking on and lists what exists.
	if msg := sa.Collect(100, 1<<20); msg != nil {
		t.Fatalf("empty table sent %d bytes", len(msg))
	}
	sb.Collect(100, 1<<20)
	c := netip.MustParseAddr("192.0.2.7")
	reqs(ta["fe"], c, 30)
	reqs(tb["fe"], c, 5)
	held := ta["fe"].track(c, nil, false) // conn_cur 1 on A: never sent
	msg := sa.Collect(100, 1<<20)
	if msg == nil {
		t.Fatal("nothing collected")
	}
	res, err := sb.Apply(msg)
	if err != nil || res.Received != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	now := time.Now().UnixNano()
	if v, _ := tb["fe"].lookup(c, ctrReqRate, now); v != 5+31 {
		t.Fatalf("B http_req_rate = %d, want 36 (5 local + 31 from A)", v)
	}
	if v, _ := tb["fe"].lookup(c, ctrReqCnt, now); v != 36 {
		t.Fatalf("B http_req_cnt = %d, want 36", v)
	}
	if v, _ := tb["fe"].lookup(c, ctrConnCur, now); v != 0 {
		t.Fatalf("B conn_cur = %d: live connections must stay per node", v)
	}
	// A second sync replaces the peer part, it does not add it again.
	reqs(ta["fe"], c, 4)
	if _, err := sb.Apply(sa.Collect(100, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if v, _ := tb["fe"].lookup(c, ctrReqRate, time.Now().UnixNano()); v != 5+35 {
		t.Fatalf("B http_req_rate = %d after the second sync, want 40", v)
	}
	// B sends its own part only: A sees 35 + 5, not 35 + 40.
	if _, err := sa.Apply(sb.Collect(100, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if v, _ := ta["fe"].lookup(c, ctrReqRate, time.Now().UnixNano()); v != 40 {
		t.Fatalf("A http_req_rate = %d, want 40", v)
	}
	ta["fe"].release(held, 200, 0, 0)
	// Nothing changed since: nothing to send; the merge did not list B's entry.
	if msg := sb.Collect(100, 1<<20); msg != nil {
		t.Fatalf("B sent again without a change (%d bytes)", len(msg))
	}
	// Table show: the sum and the peer's part.
	ts, err := eb.Table("fe", 0)
	if err != nil || len(ts.Entries) != 1 {
		t.Fatal(ts, err)
	}
	if en := ts.Entries[0]; en.Counters["http_req_rate"] != 40 || en.Peer["http_req_rate"] != 35 || ts.PeerReceived != 2 {
		t.Fatalf("table show: %+v peer received %d", en, ts.PeerReceived)
	}
	if _, ok := ts.Entries[0].Peer["conn_cur"]; ok {
		t.Fatal("conn_cur shown as the peer's")
	}
}

// TestStickSyncWindow: the peer part ages by the receiver's clock from the
// sent age; a part older than two periods counts nothing.
func TestStickSyncWindow(t *testing.T) {
	def := StickTable{Name: "fe", Size: 10, Expire: time.Minute, Store: []string{"http_req_rate(100ms)"}}
	ea, ta := syncEngine(t, def)
	eb, tb := syncEngine(t, def)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	sa.Collect(10, 1<<20)
	c := netip.MustParseAddr("2001:db8::1")
	reqs(ta["fe"], c, 10)
	if _, err := sb.Apply(sa.Collect(10, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// B has no traffic of its own: its value is A's, at the same instant
	// (within rounding: the message took a moment).
	now := time.Now().UnixNano()
	va, _ := ta["fe"].lookup(c, ctrReqRate, now)
	vb, _ := tb["fe"].lookup(c, ctrReqRate, now)
	if va == 0 || vb+1 < va || vb > va+1 {
		t.Fatalf("rate on B = %d, on A = %d", vb, va)
	}
	time.Sleep(250 * time.Millisecond)
	if v, _ := tb["fe"].lookup(c, ctrReqRate, time.Now().UnixNano()); v != 0 {
		t.Fatalf("rate after two periods = %d, want 0", v)
	}
}

// TestStickSyncBatches: a batch holds at most the given entries (and about
// the given bytes); the rest goes in the next ones, each entry once.
func TestStickSyncBatches(t *testing.T) {
	def := StickTable{Name: "big", Size: 50000, Expire: time.Minute, Store: []string{"http_req_rate(10s)"}}
	ea, ta := syncEngine(t, def, StickTable{Name: "small", Size: 10, Expire: time.Minute, Store: []string{"conn_cnt"}})
	eb, tb := syncEngine(t, def)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	sa.Collect(1, 1<<20)
	for i := 0; i < 3000; i++ {
		reqs(ta["big"], netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1)
	}
	if e := ta["small"].track(netip.MustParseAddr("192.0.2.1"), []byte(nil), true); e != nil {
		ta["small"].release(e, 0, 0, 0)
	}
	total, unknown, msgs := 0, 0, 0
	for {
		msg := sa.Collect(1000, 1<<20)
		if msg == nil {
			break
		}
		msgs++
		res, err := sb.Apply(msg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Received > 1000 {
			t.Fatalf("batch of %d entries", res.Received)
		}
		total += res.Received
		unknown += res.UnknownTable
	}
	if total != 3000 || unknown != 1 || msgs < 4 {
		t.Fatalf("received %d, unknown %d in %d messages", total, unknown, msgs)
	}
	if st := sb.Stats(); st.UnknownTable != 1 || st.Received != 3000 {
		t.Fatalf("stats %+v", st)
	}
	// The byte bound.
	for i := 0; i < 3000; i++ {
		reqs(ta["big"], netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1)
	}
	msg := sa.Collect(100000, 4096)
	if len(msg) > 4096+64 {
		t.Fatalf("message of %d bytes, bound 4096", len(msg))
	}
	// MarkAll sends everything again (the peer restarted).
	for sa.Collect(100000, 1<<20) != nil {
	}
	sa.MarkAll()
	n := 0
	for msg := sa.Collect(100000, 1<<30); msg != nil; msg = sa.Collect(100000, 1<<30) {
		res, _ := sb.Apply(msg)
		n += res.Received
	}
	if n != 3000 {
		t.Fatalf("MarkAll resent %d entries, want 3000", n)
	}
	_ = tb
}

// TestStickSyncBounded: a flood of peer entries cannot grow the table past
// its size (LRU eviction as for local keys); entries in use stay; expiry
// drops the peer's part with the entry.
func TestStickSyncBounded(t *testing.T) {
	def := StickTable{Name: "fe", Size: 50, Expire: 300 * time.Millisecond, Store: []string{"http_req_rate(10s)", "conn_cur"}}
	ea, ta := syncEngine(t, StickTable{Name: "fe", Size: 5000, Expire: time.Minute, Store: def.Store})
	eb, tb := syncEngine(t, def)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	sa.Collect(1, 1<<20)
	own := netip.MustParseAddr("192.0.2.1")
	held := tb["fe"].track(own, nil, false)
	for i := 0; i < 2000; i++ {
		reqs(ta["fe"], netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1)
	}
	for msg := sa.Collect(500, 1<<20); msg != nil; msg = sa.Collect(500, 1<<20) {
		if _, err := sb.Apply(msg); err != nil {
			t.Fatal(err)
		}
	}
	st := tb["fe"]
	if st.n > 50 || len(st.byAddr) > 50 {
		t.Fatalf("table holds %d entries, size 50", st.n)
	}
	if st.byAddr[own] != held {
		t.Fatal("an entry in use was evicted by peer updates")
	}
	var last netip.Addr
	st.mu.Lock()
	for a, e := range st.byAddr {
		if a != own && e.peer != nil {
			last = a
		}
	}
	st.mu.Unlock()
	if v, _ := st.lookup(last, ctrReqRate, time.Now().UnixNano()); v != 1 {
		t.Fatalf("peer entry %v rate = %d", last, v)
	}
	time.Sleep(400 * time.Millisecond)
	if v, _ := st.lookup(last, ctrReqRate, time.Now().UnixNano()); v != 0 {
		t.Fatalf("expired peer entry rate = %d", v)
	}
	tb["fe"].release(held, 200, 0, 0)
}

// TestStickSyncMalformed: bad messages are refused whole and counted.
func TestStickSyncMalformed(t *testing.T) {
	ea, ta := syncEngine(t, syncTableDef)
	eb, _ := syncEngine(t, syncTableDef)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	sa.Collect(1, 1<<20)
	reqs(ta["fe"], netip.MustParseAddr("192.0.2.3"), 3)
	good := sa.Collect(10, 1<<20)
	bad := [][]byte{
		nil,
		[]byte("LBS"),
		[]byte("XXXX\x00"),
		append([]byte("LBS1"), binary.AppendUvarint(nil, 1000)...), // too many tables
		good[:len(good)-1],                                       // truncated
		append(bytes.Clone(good), 0),                             // trailing
		[]byte("LBS1\x01\x02fe\x01\x00\x00\x00"),                 // conn_cur travels not
		[]byte("LBS1\x01\x02fe\x01\x04\x00\x00"),                 // a rate without period
		[]byte("LBS1\x01\x02fe\x01\x03\x05\x00"),                 // a count with a period
		[]byte("LBS1\x01\x02fe\x01\x03\x00\x01\x07"),             // bad key kind
		[]byte("LBS1\x01\x02fe\x01\x03\x00\xff\xff\xff\xff\x0f"), // entries beyond the message
	}
	for i, m := range bad {
		if _, err := sb.Apply(m); err == nil {
			t.Errorf("message %d (%q) accepted", i, m)
		}
	}
	if st := sb.Stats(); st.Malformed != uint64(len(bad)) || st.Received != 0 {
		t.Fatalf("stats %+v", st)
	}
	if res, err := sb.Apply(good); err != nil || res.Received != 1 {
		t.Fatalf("good message: %+v %v", res, err)
	}
	// A counter with another period here is skipped, not misread.
	ec, _ := syncEngine(t, StickTable{Name: "fe", Size: 10, Expire: time.Minute, Store: []string{"http_req_rate(1m)", "http_req_cnt"}})
	res, err := NewStickSync(ec).Apply(good)
	if err != nil || res.Mismatch != 1 || res.Received != 1 {
		t.Fatalf("period mismatch: %+v %v", res, err)
	}
}

// TestStickSyncStringKeys: header keys travel too.
func TestStickSyncStringKeys(t *testing.T) {
	ea, ta := syncEngine(t, syncTableDef)
	eb, tb := syncEngine(t, syncTableDef)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	sa.Collect(1, 1<<20)
	for i := 0; i < 3; i++ {
		e := ta["fe"].track(netip.Addr{}, []byte("203.0.113.9"), false)
		ta["fe"].release(e, 200, 0, 0)
	}
	if _, err := sb.Apply(sa.Collect(10, 1<<20)); err != nil {
		t.Fatal(err)
	}
	e := tb["fe"].track(netip.Addr{}, []byte("203.0.113.9"), false)
	if v, _ := tb["fe"].value(e, ctrReqRate); v != 4 {
		t.Fatalf("rate = %d, want 4", v)
	}
}

// TestStickSyncHotPathNoAlloc: with the sync on, tracking stays 0 allocs.
func TestStickSyncHotPathNoAlloc(t *testing.T) {
	ea, ta := syncEngine(t, StickTable{Name: "fe", Size: 100000, Expire: time.Minute, Store: []string{"http_req_rate(10s)", "conn_cur"}})
	sa := NewStickSync(ea)
	sa.Collect(1, 1<<20)
	st := ta["fe"]
	a := netip.MustParseAddr("192.0.2.5")
	reqs(st, a, 1)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		e := st.track(a, nil, false)
		st.release(e, 200, 0, 0)
		if i++; i%100 == 0 {
			// Take it off the dirty list as Collect does, so that it
			// is listed again.
			sh := st.shard(a, nil)
			sh.mu.Lock()
			sh.undirty(sh.byAddr[a])
			sh.mu.Unlock()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per tracked request with the sync on", allocs)
	}
}

func FuzzStickDecode(f *testing.F) {
	ea, ta := syncEngine(f, syncTableDef)
	sa := NewStickSync(ea)
	sa.Collect(1, 1<<20)
	reqs(ta["fe"], netip.MustParseAddr("192.0.2.3"), 3)
	e := ta["fe"].track(netip.Addr{}, []byte("k"), false)
	ta["fe"].release(e, 404, 0, 0)
	f.Add(sa.Collect(10, 1<<20))
	f.Add([]byte("LBS1\x01\x02fe\x01\x03\x00\x01\x04abcd\x05"))
	eb, _ := syncEngine(f, syncTableDef, StickTable{Name: "s", Size: 4, Expire: time.Minute, Store: []string{"http_err_rate(1s)"}})
	sb := NewStickSync(eb)
	f.Fuzz(func(t *testing.T, msg []byte) {
		ups, err := decodeStick(msg)
		if err == nil {
			for _, u := range ups {
				for _, en := range u.entries {
					if en.skey == "" && !en.addr.IsValid() {
						t.Fatalf("entry without key in %q", msg)
					}
				}
			}
		}
		sb.Apply(msg)
		if n := eb.gen.Load().tables["s"].n; n > 4 {
			t.Fatalf("table grew to %d", n)
		}
	})
}

// TestStickSyncConcurrent: traffic, sends, merges and table listings at
// once (run with -race); the table stays within its size.
func TestStickSyncConcurrent(t *testing.T) {
	def := StickTable{Name: "fe", Size: 2000, Expire: time.Minute, Store: []string{"http_req_rate(1s)", "http_req_cnt", "conn_cur"}}
	ea, ta := syncEngine(t, def)
	eb, tb := syncEngine(t, def)
	sa, sb := NewStickSync(ea), NewStickSync(eb)
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 3000; i++ {
				a := netip.AddrFrom4([4]byte{10, byte(w), byte(i >> 8), byte(i)})
				reqs(ta["fe"], a, 1)
				reqs(tb["fe"], a, 1)
			}
		}(w)
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for i := 0; i < 50; i++ {
			if msg := sa.Collect(500, 64<<10); msg != nil {
				if _, err := sb.Apply(msg); err != nil {
					t.Error(err)
				}
			}
			if msg := sb.Collect(500, 64<<10); msg != nil {
				if _, err := sa.Apply(msg); err != nil {
					t.Error(err)
				}
			}
			eb.Table("fe", 10)
			if i%10 == 0 {
				sa.MarkAll()
			}
		}
	}()
	for i := 0; i < 5; i++ {
		<-done
	}
	for _, st := range []*stickTable{ta["fe"], tb["fe"]} {
		n := 0
		for _, sh := range st.shards() {
			sh.mu.Lock()
			n += sh.n
			d := 0
			for e := sh.dhead; e != nil; e = e.dnext {
				if !e.dirty || sh.byAddr[e.addr] != e {
					t.Fatalf("dirty list holds an entry not in the table")
				}
				d++
			}
			sh.mu.Unlock()
			if d > sh.size {
				t.Fatalf("dirty list of %d entries, shard size %d", d, sh.size)
			}
		}
		if n > 2000 {
			t.Fatalf("table holds %d entries, size 2000", n)
		}
	}
}
