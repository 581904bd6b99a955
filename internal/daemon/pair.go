package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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
	mu      sync.Mutex
	link    *pair.Link
	cfg     *config.Pair
	err     string          // why the link could not start
	stepped map[string]bool // instances this node handed over to end a split brain
	gen     int             // startPair calls; a retry of an older one gives up

	hashMu   sync.Mutex
	hashMod  time.Time
	hashSize int64
	hash     string
}

// startPair (re)starts the pair link for cfg. A link that cannot start is
// reported in status and logged; lbd serves on without it.
func (d *Daemon) startPair(cfg *config.Config) {
	ps := &d.pair
	ps.mu.Lock()
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
		Logger:     d.log,
		Now:        d.opts.Now,
	})
	if err == nil {
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
	for k, v := range ps.stepped {
		stepped[k] = v
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

// configHash is the SHA-256 of the config file on disk (the whole file,
// node-local keys included), re-read only when its size or time changed.
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
	sum := sha256.Sum256(data)
	ps.hash, ps.hashMod, ps.hashSize = hex.EncodeToString(sum[:]), fi.ModTime(), fi.Size()
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

// pairStepDown ends a split brain on this node's side (the rule said this
// node yields): the same handover as `lbctl vrrp handover INSTANCE`.
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
	if rt == nil || rt.handover(instance, true) != nil {
		return false
	}
	ps.mu.Lock()
	if ps.stepped == nil {
		ps.stepped = map[string]bool{}
	}
	ps.stepped[instance] = true
	ps.mu.Unlock()
	d.log.Warn("vrrp handover", "instance", instance, "by", "pair: split brain, this node yields")
	return true
}

// pairTick ends a step-down once it is no longer needed: the peer no
// longer reports MASTER for the VRID, or the link is down (the peer may be
// gone: this node must be free to take over).
func (d *Daemon) pairTick(st control.PairStatus) {
	ps := &d.pair
	ps.mu.Lock()
	var names []string
	for n := range ps.stepped {
		names = append(names, n)
	}
	ps.mu.Unlock()
	if len(names) == 0 {
		return
	}
	rt := d.runtime()
	if rt == nil {
		return
	}
	for _, name := range names {
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
		if st.Link == "up" && peerMaster {
			continue
		}
		if err := rt.handover(name, false); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Warn("pair: ending the split-brain step-down", "instance", name, "error", err)
		}
		ps.mu.Lock()
		delete(ps.stepped, name)
		ps.mu.Unlock()
		d.log.Warn("vrrp resume", "instance", name, "by", "pair: split-brain step-down over (peer no longer master, or link down)")
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
	return &control.PeerConfig{Node: peer.Node, File: peer.File, Content: string(peer.Content),
		Local: string(local), LocalFile: d.opts.ConfigPath}, nil
}
