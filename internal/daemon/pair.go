package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/internal/build"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
)

// pairState is the daemon's end of the pair link (docs/pair.md). The link
// runs in its own goroutines; nothing in the VRRP path waits for it.
type pairState struct {
	mu        sync.Mutex
	link      *pair.Link
	cfg       *config.Pair
	err       string            // why the link could not start
	stepped   map[string]uint64 // instances handed over to end a split brain: adverts received then
	gen       int               // startPair calls; a retry of an older one gives up
	ticketErr string            // the last error applying the peer's ticket keys

	hashMu   sync.Mutex
	hashMod  time.Time
	hashSize int64
	hash     string

	sync syncState // pushes and server changes (pairsync.go)

	stick stickSyncState // stick-table replication (sticksync.go)
}

// startPair (re)starts the pair link for cfg (at start, and on a reload
// that changed the pair section). A link that cannot start is
// reported in status and logged; lbd serves on without it.
func (d *Daemon) startPair(cfg *config.Config) {
	ps := &d.pair
	ps.mu.Lock()
	if ps.link != nil && reflect.DeepEqual(ps.cfg, cfg.Pair) {
		// A reload with the same pair section keeps the link (and works
		// after a chroot, where the state directory may be out of reach).
		ps.mu.Unlock()
		return
	}
	old := ps.link
	ps.link, ps.cfg, ps.err = nil, cfg.Pair, ""
	ps.gen++
	gen := ps.gen
	ps.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if cfg.Pair == nil {
		return
	}
	p := cfg.Pair
	l, err := pair.New(pair.Options{
		Dir:        pair.Dir(p.StateDir),
		Listen:     p.Listen,
		Peer:       p.Peer,
		Interval:   p.Interval,
		Timeout:    p.Timeout,
		Local:      d.pairPresence,
		ConfigFile: d.pairConfigFile,
		StepDown:   d.pairStepDown,
		OnTick:     d.pairTick,
		OnPush:     d.pairOnPush,
		OnServer:   d.pairOnServer,
		OnPresence: d.pairOnPresence,
		ACME:       d.acmePeerMessage,
		Stick:      d.stickPeerMessage,
		Logger:     d.log,
		Now:        d.opts.Now,
	})
	if err == nil {
		go d.stickSyncLoop(l, gen, p.Interval)
		err = l.Start()
		if errors.Is(err, syscall.EADDRINUSE) {
			// After a binary upgrade the old process frees the port
			// a moment after this one starts.
			go d.retryPair(l, gen)
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err != nil {
		ps.err = err.Error()
		d.log.Error("pair link not started: lbd serves on without it", "error", err)
		return
	}
	ps.link = l
}

// retryPair retries a link whose port was busy, for a bounded time.
func (d *Daemon) retryPair(l *pair.Link, gen int) {
	for i := 0; i < 40; i++ {
		time.Sleep(250 * time.Millisecond)
		d.pair.mu.Lock()
		current := d.pair.gen == gen
		d.pair.mu.Unlock()
		if !current {
			return
		}
		if err := l.Start(); err != nil {
			continue
		}
		d.pair.mu.Lock()
		if d.pair.gen != gen {
			d.pair.mu.Unlock()
			l.Close()
			return
		}
		d.pair.link, d.pair.err = l, ""
		d.pair.mu.Unlock()
		d.log.Info("pair link started after its port was freed")
		return
	}
}

func (d *Daemon) stopPair() {
	d.pair.mu.Lock()
	l := d.pair.link
	d.pair.link = nil
	d.pair.gen++ // ends a retry and the stick-table sync of this link
	d.pair.mu.Unlock()
	if l != nil {
		l.Close()
	}
}

// pairStatus is the "pair" section of the status; nil without one.
func (d *Daemon) pairStatus() *control.PairStatus {
	ps := &d.pair
	ps.mu.Lock()
	l, cfg, errText := ps.link, ps.cfg, ps.err
	stepped := map[string]bool{}
	for k := range ps.stepped {
		stepped[k] = true
	}
	ps.mu.Unlock()
	if cfg == nil {
		return nil
	}
	if l == nil {
		return &control.PairStatus{Listen: cfg.Listen, Link: "down", LastError: errText,
			PeerVRRP: []control.PairVRRP{}, PeerServers: []control.PairServer{}, SplitBrain: []control.SplitBrain{}, Refused: map[string]uint64{}}
	}
	st := l.Status()
	if share := d.ticketShare(); share != nil {
		self, peer := l.Fingerprints()
		st.Tickets = share.Status(self, peer, st.Link == "up")
	}
	for i := range st.SplitBrain {
		if stepped[st.SplitBrain[i].Instance] {
			st.SplitBrain[i].SteppedDown = true
		}
	}
	return &st
}

// pairPresence is this node's presence for the peer.
func (d *Daemon) pairPresence() pair.Presence {
	st := d.statusCore()
	p := pair.Presence{
		Node: st.Node, Version: build.Version, StartedAt: st.StartedAt, UptimeSec: st.UptimeSec,
		ConfigFile: d.opts.ConfigPath, ConfigHash: d.configHash(),
		VRRP: []control.PairVRRP{}, Servers: []control.PairServer{},
		Admin: d.pairAdmin(),
	}
	d.pair.mu.Lock()
	l := d.pair.link
	d.pair.mu.Unlock()
	if share := d.ticketShare(); share != nil && l != nil {
		p.Tickets = share.Outgoing(l.Fingerprints())
	}
	for _, v := range st.VRRP {
		p.VRRP = append(p.VRRP, control.PairVRRP{Name: v.Name, VRID: v.VRID, State: v.State, Priority: v.EffectivePriority, Base: v.BasePriority})
	}
	for _, b := range st.Backends {
		for _, s := range b.Servers {
			p.Servers = append(p.Servers, control.PairServer{Backend: b.Name, Server: s.Name, State: s.State})
		}
	}
	return p
}

// ticketShare is the process's session ticket key sharing (nil without
// a TLS bind).
func (d *Daemon) ticketShare() *pair.TicketSync {
	rt := d.runtime()
	if rt == nil {
		return nil
	}
	return rt.tls.ticketShare()
}

// pairTickets takes the ticket keys part of the peer's presence; a set
// that does not apply is logged once per distinct error (never the keys).
func (d *Daemon) pairTickets(p *pair.Presence) {
	share := d.ticketShare()
	d.pair.mu.Lock()
	l := d.pair.link
	d.pair.mu.Unlock()
	if share == nil || l == nil {
		return
	}
	self, peer := l.Fingerprints()
	err := share.Incoming(self, peer, p.Tickets, l.StaleAfter())
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	d.pair.mu.Lock()
	changed := msg != d.pair.ticketErr
	d.pair.ticketErr = msg
	d.pair.mu.Unlock()
	if changed && err != nil {
		d.log.Warn("pair: the peer's session ticket keys not applied", "error", err)
	}
}

// configHash is the SHA-256 of the shared part of the config file on disk
// (node-local keys left out: config.NodeLocalKeys; a file that does not
// parse: the whole file), re-read only when its size or time changed.
func (d *Daemon) configHash() string {
	ps := &d.pair
	fi, err := os.Stat(d.opts.ConfigPath)
	if err != nil {
		return ""
	}
	ps.hashMu.Lock()
	defer ps.hashMu.Unlock()
	if fi.ModTime().Equal(ps.hashMod) && fi.Size() == ps.hashSize && ps.hash != "" {
		return ps.hash
	}
	data, err := readConfigFile(d.opts.ConfigPath)
	if err != nil {
		return ""
	}
	h := config.SharedHash(d.opts.ConfigPath, data)
	if h == "" {
		sum := sha256.Sum256(data)
		h = hex.EncodeToString(sum[:])
	}
	ps.hash, ps.hashMod, ps.hashSize = h, fi.ModTime(), fi.Size()
	return ps.hash
}

const maxConfigFile = 4 << 20

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("config file %s is larger than %d bytes", path, maxConfigFile)
	}
	return data, nil
}

func (d *Daemon) pairConfigFile() (pair.ConfigFile, error) {
	host, _ := os.Hostname()
	data, err := readConfigFile(d.opts.ConfigPath)
	if err != nil {
		return pair.ConfigFile{}, err
	}
	return pair.ConfigFile{Node: host, File: d.opts.ConfigPath, Content: data}, nil
}

// pairHoldTrack is a tracked object (weight 0) that every VRRP instance
// gets besides its configured ones; failing it puts the instance in FAULT.
// The name cannot be a frontend's, and the tracking loop never sets it.
const pairHoldTrack = "frontend/pair split-brain hold"

// withPairHold adds the pair hold to an instance's tracked objects.
func withPairHold(in config.VRRPInstance) config.VRRPInstance {
	fe := make([]config.TrackItem, 0, len(in.Track.Frontends)+1)
	fe = append(fe, in.Track.Frontends...)
	in.Track.Frontends = append(fe, config.TrackItem{Name: strings.TrimPrefix(pairHoldTrack, "frontend/"), Weight: 0})
	return in
}

// pairStepDown ends a split brain on this node's side (the rule said this
// node yields): the instance goes to FAULT through the pair hold, as if a
// tracked object with weight 0 failed: VIPs released, no adverts, no
// takeover. A handover (lbctl vrrp handover) would not do: a handed-over
// node still becomes master when it hears no master, which is what a split
// brain is.
func (d *Daemon) pairStepDown(instance string) bool {
	ps := &d.pair
	ps.mu.Lock()
	mode := ""
	if ps.cfg != nil {
		mode = ps.cfg.SplitBrain
	}
	ps.mu.Unlock()
	if mode != "step_down" {
		return false
	}
	rt := d.runtime()
	if rt == nil {
		return false
	}
	rx, ok := rt.advertsRx(instance)
	if !ok || !rt.pairHold(instance, true) {
		return false
	}
	ps.mu.Lock()
	if ps.stepped == nil {
		ps.stepped = map[string]uint64{}
	}
	ps.stepped[instance] = rx
	ps.mu.Unlock()
	d.log.Warn("vrrp instance held in FAULT", "instance", instance, "by", "pair: split brain, this node yields")
	return true
}

// pairTick ends a step-down once it is no longer needed: the peer no
// longer reports MASTER for the VRID, the link is down (the peer may be
// gone: this node must be free to take over), or adverts arrive again (the
// advert path is mended; VRRP alone keeps one master).
func (d *Daemon) pairTick(st control.PairStatus) {
	ps := &d.pair
	ps.mu.Lock()
	stepped := map[string]uint64{}
	for n, rx := range ps.stepped {
		stepped[n] = rx
	}
	ps.mu.Unlock()
	if len(stepped) == 0 {
		return
	}
	rt := d.runtime()
	if rt == nil {
		return
	}
	for name, rx0 := range stepped {
		vrid := -1
		for _, vn := range rt.nodes {
			if vn.cfg.Name == name {
				vrid = vn.cfg.VRID
			}
		}
		peerMaster := false
		for _, v := range st.PeerVRRP {
			if v.VRID == vrid && v.State == "MASTER" {
				peerMaster = true
			}
		}
		why := "the peer is no longer master"
		switch rx, _ := rt.advertsRx(name); {
		case rx > rx0+2:
			why = "adverts arrive again"
		case st.Link != "up":
			why = "the pair link is down"
		case peerMaster:
			continue
		}
		rt.pairHold(name, false)
		ps.mu.Lock()
		delete(ps.stepped, name)
		ps.mu.Unlock()
		d.log.Warn("vrrp instance released from FAULT", "instance", name, "by", "pair: split-brain step-down over: "+why)
	}
}

// PeerConfig implements control.PairBackend: this node's config file and
// the peer's, fetched over the pair link.
func (d *Daemon) PeerConfig(ctx context.Context) (*control.PeerConfig, error) {
	d.pair.mu.Lock()
	l, cfg := d.pair.link, d.pair.cfg
	d.pair.mu.Unlock()
	if cfg == nil {
		return nil, errors.New("no pair section in the config: see docs/pair.md")
	}
	if l == nil {
		return nil, errors.New("the pair link is not running: " + d.pair.err)
	}
	local, err := readConfigFile(d.opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	peer, err := l.PeerConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the peer's config: %w", err)
	}
	pc := &control.PeerConfig{Node: peer.Node, File: peer.File, Content: string(peer.Content),
		Local: string(local), LocalFile: d.opts.ConfigPath}
	// The peer sends its whole file; both are cut down here, so an older
	// peer compares the same way.
	if sh, err := config.SharedPart(peer.File, peer.Content); err == nil {
		pc.Shared = string(sh)
	} else {
		pc.Shared = pc.Content
	}
	if sh, err := config.SharedPart(d.opts.ConfigPath, local); err == nil {
		pc.LocalShared = string(sh)
	} else {
		pc.LocalShared = pc.Local
	}
	return pc, nil
}

// advertsRx is the adverts an instance has received.
func (rt *runtime) advertsRx(instance string) (uint64, bool) {
	for _, vn := range rt.nodes {
		if vn.cfg.Name == instance {
			return vn.node.Status().AdvertsRx, true
		}
	}
	return 0, false
}

// pairHold sets or clears the pair hold of an instance.
func (rt *runtime) pairHold(instance string, hold bool) bool {
	for _, vn := range rt.nodes {
		if vn.cfg.Name == instance {
			vn.node.SetTrack(pairHoldTrack, !hold)
			return true
		}
	}
	return false
}
