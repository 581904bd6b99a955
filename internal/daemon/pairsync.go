package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/build"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
)

// pushWho is the reload source of a config received from the peer; such a
// reload never pushes back (pair.sync: auto).
const pushWho = "pair push from "

// pushLease bounds how long a push holds a node's push lock: a push that
// hangs cannot block the pair for longer.
const pushLease = 30 * time.Second

// syncState is the daemon's side of config pushes and shared server
// changes (docs/pair.md#config-push, #runtime-state).
type syncState struct {
	mu     sync.Mutex
	holder string // who holds the push lock
	until  time.Time
	// admin is the latest operator change per server and kind, from
	// either node; clock the highest generation seen.
	admin map[string]*pair.AdminChange
	clock int64
}

// lockPush takes this node's push lock (a push sent from or received by
// this node) for at most pushLease; it returns the holder on conflict.
func (d *Daemon) lockPush(who string) (string, bool) {
	s := &d.pair.sync
	now := d.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != "" && now.Before(s.until) {
		return s.holder, false
	}
	s.holder, s.until = who, now.Add(pushLease)
	return "", true
}

func (d *Daemon) unlockPush() {
	s := &d.pair.sync
	s.mu.Lock()
	s.holder = ""
	s.mu.Unlock()
}

func (d *Daemon) pairLink() (*pair.Link, *config.Pair, error) {
	d.pair.mu.Lock()
	l, cfg, errText := d.pair.link, d.pair.cfg, d.pair.err
	d.pair.mu.Unlock()
	if cfg == nil {
		return nil, nil, errors.New("no pair section in the config: see docs/pair.md")
	}
	if l == nil {
		return nil, cfg, errors.New("the pair link is not running: " + errText)
	}
	return l, cfg, nil
}

// peerName names the peer in messages: its node name and address.
func peerName(l *pair.Link) string {
	if n := l.PeerName(); n != "" {
		return n + " (" + l.PeerAddr() + ")"
	}
	return l.PeerAddr()
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// PushConfig implements control.PairSyncBackend: `lbctl config push`.
// Nothing changes on this node; the peer validates, writes and reloads.
func (d *Daemon) PushConfig(ctx context.Context, who string) (*control.PushResult, error) {
	l, _, err := d.pairLink()
	if err != nil {
		return nil, err
	}
	if holder, ok := d.lockPush("a push from this node (" + who + ")"); !ok {
		return nil, fmt.Errorf("conflict: %s is in progress on this node; try again when it is done", holder)
	}
	defer d.unlockPush()
	path := d.opts.ConfigPath
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	// The same check as lbd check: never push what this node would refuse.
	if _, err := config.LoadBytes(path, data); err != nil {
		return nil, fmt.Errorf("this node's config does not pass lbd check; nothing pushed:\n%w", err)
	}
	shared, err := config.SharedPart(path, data)
	if err != nil {
		return nil, fmt.Errorf("cutting the shared part: %w", err)
	}
	p := &pair.Push{Node: hostname(), Version: build.Version, File: path, Shared: shared, Hash: config.SharedHash(path, data)}
	res, err := l.SendPush(ctx, p)
	peer := peerName(l)
	switch {
	case pair.Unsupported(err):
		return nil, fmt.Errorf("peer %s runs an lbd without config push (older version): upgrade it first; nothing changed", peer)
	case err != nil:
		return nil, fmt.Errorf("push to peer %s failed: %w; this node's config is unchanged (if the peer stopped while applying, its file is either its previous one or the pushed one: see lbctl config diff)", peer, err)
	}
	out := &control.PushResult{Nodes: []control.PushNode{
		{Node: p.Node, File: path, Status: "sent", Version: build.Version,
			Detail: fmt.Sprintf("shared part sent (%d bytes, sha256 %.12s); this node's file unchanged", len(shared), p.Hash)},
		{Node: res.Node, File: res.File, Status: res.Status, Error: res.Error, Prev: res.Prev, Version: res.Version},
	}}
	out.OK = res.Status == pair.PushApplied || res.Status == pair.PushUnchanged
	d.log.Info("config pushed to the peer", "peer", peer, "status", res.Status, "error", res.Error, "by", who)
	return out, nil
}

// pairOnPush applies a config pushed by the peer: merge with this node's
// node-local keys, validate as lbd check does, write atomically keeping
// FILE.prev, reload. Anything short of a good reload leaves the old file
// and the old config serving.
func (d *Daemon) pairOnPush(ctx context.Context, p *pair.Push) pair.PushResult {
	path := d.opts.ConfigPath
	res := pair.PushResult{Node: hostname(), Version: build.Version, File: path}
	refuse := func(status string, err error) pair.PushResult {
		res.Status, res.Error = status, err.Error()
		d.log.Error("config push from the peer refused: the old config keeps serving", "peer", p.Node, "status", status, "error", err)
		return res
	}
	if holder, ok := d.lockPush(pushWho + p.Node); !ok {
		return refuse(pair.PushConflict, fmt.Errorf("conflict: %s is in progress on %s; try again when it is done", holder, res.Node))
	}
	defer d.unlockPush()
	own, err := readConfigFile(path)
	if err != nil {
		return refuse(pair.PushRefused, err)
	}
	merged, err := config.MergeShared(p.Shared, own, path)
	if err != nil {
		return refuse(pair.PushRefused, err)
	}
	if config.SharedHash(path, own) == config.SharedHash(path, merged) {
		res.Status = pair.PushUnchanged
		return res
	}
	// Exactly lbd check's code path (config.Load is LoadBytes on the file):
	// an unknown key from a newer version is a strict-decode error here.
	if _, err := config.LoadBytes(path, merged); err != nil {
		if p.Version != build.Version {
			err = fmt.Errorf("%w\n(the pushing node runs lbd %s, this one %s)", err, p.Version, build.Version)
		}
		return refuse(pair.PushRefused, err)
	}
	prev, err := writeWithPrev(path, merged, own)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			err = fmt.Errorf("%w (lbd needs write access to %s: see docs/install.md)", err, filepath.Dir(path))
		}
		return refuse(pair.PushRefused, err)
	}
	r := d.Reload(ctx, pushWho+p.Node)
	if !r.OK {
		// Put the previous file back: disk and the running config agree.
		if _, rerr := writeWithPrev(path, own, nil); rerr != nil {
			r.Error += "; restoring the previous file failed: " + rerr.Error()
		}
		return refuse(pair.PushFailed, fmt.Errorf("reload failed, previous file restored: %s", r.Error))
	}
	res.Status, res.Prev = pair.PushApplied, prev
	d.log.Info("config pushed by the peer applied", "peer", p.Node, "file", path, "previous", prev)
	return res
}

// writeWithPrev replaces path with data atomically (temporary file in the
// same directory, fsync, rename), first keeping prev (when not nil) as
// path.prev the same way. A crash leaves either file whole.
func writeWithPrev(path string, data, prev []byte) (string, error) {
	mode := os.FileMode(0o640)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	prevPath := ""
	if prev != nil {
		prevPath = path + ".prev"
		if err := writeAtomic(prevPath, prev, mode); err != nil {
			return "", err
		}
	}
	if err := writeAtomic(path, data, mode); err != nil {
		return "", err
	}
	return prevPath, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
	return nil
}

// pairAfterReload pushes after a successful reload with pair.sync: auto,
// unless the reload was the peer's push (no ping-pong).
func (d *Daemon) pairAfterReload(who string) {
	if strings.HasPrefix(who, pushWho) {
		return
	}
	d.pair.mu.Lock()
	auto := d.pair.cfg != nil && d.pair.cfg.Sync == "auto"
	d.pair.mu.Unlock()
	if !auto {
		return
	}
	go func() {
		res, err := d.PushConfig(context.Background(), "pair.sync auto after reload by "+who)
		if err != nil {
			d.log.Error("pair.sync auto: push failed", "error", err)
			return
		}
		if !res.OK {
			p := res.Nodes[len(res.Nodes)-1]
			d.log.Error("pair.sync auto: the peer did not apply the push", "peer", p.Node, "status", p.Status, "error", p.Error)
		}
	}()
}

// ChangeServer implements control.PairSyncBackend.
func (d *Daemon) ChangeServer(ctx context.Context, backend, server string, state *string, weight *int, local bool, who string) (*control.ServerChangeResult, error) {
	var ch serverChange
	if state != nil {
		a, err := checks.ParseAdmin(*state)
		if err != nil {
			return nil, err
		}
		ch.admin = &a
	}
	ch.weight = weight
	return d.changeServer(ctx, backend, server, ch, local, who)
}

// changeServer applies a server change here and, unless local, on the
// peer; it says what each node did. The peer being unreachable is no
// error: the change is recorded and reaches the peer with the next
// presence once the link is back.
func (d *Daemon) changeServer(ctx context.Context, backend, server string, ch serverChange, local bool, who string) (*control.ServerChangeResult, error) {
	if err := d.applyServer(backend, server, ch, who); err != nil {
		return nil, err
	}
	res := &control.ServerChangeResult{OK: true}
	var changes []*pair.AdminChange
	if ch.admin != nil {
		changes = append(changes, &pair.AdminChange{Backend: backend, Server: server, Kind: "state", State: strings.ToLower(ch.admin.String())})
	}
	if ch.weight != nil {
		changes = append(changes, &pair.AdminChange{Backend: backend, Server: server, Kind: "weight", Weight: *ch.weight})
	}
	res.Nodes = append(res.Nodes, control.NodeChange{Node: hostname(), Changed: true, Result: describe(changes)})
	d.pair.mu.Lock()
	paired := d.pair.cfg != nil
	d.pair.mu.Unlock()
	if !paired {
		return res, nil
	}
	l, _, err := d.pairLink()
	if local {
		name := "peer"
		if l != nil {
			name = peerName(l)
		}
		res.Nodes = append(res.Nodes, control.NodeChange{Node: name, Result: "not changed (--local)"})
		return res, nil
	}
	for _, c := range changes {
		c.Node, c.Who = hostname(), who
		d.recordAdmin(c)
	}
	if err != nil {
		res.Nodes = append(res.Nodes, control.NodeChange{Node: "peer", Result: "not changed now (" + err.Error() + "); it gets the change when the link is up"})
		return res, nil
	}
	name := peerName(l)
	for _, c := range changes {
		pr, err := l.SendServer(ctx, c)
		switch {
		case err != nil:
			res.Nodes = append(res.Nodes, control.NodeChange{Node: name, Result: "not changed now: peer unreachable (" + err.Error() + "); it gets the change when the link is back up"})
		case pr.Status == "applied":
			res.Nodes = append(res.Nodes, control.NodeChange{Node: pr.Node, Changed: true, Result: describe([]*pair.AdminChange{c})})
		case pr.Status == "stale":
			res.Nodes = append(res.Nodes, control.NodeChange{Node: pr.Node, Result: "not changed: it has a newer change for this server"})
		default:
			res.Nodes = append(res.Nodes, control.NodeChange{Node: pr.Node, Result: "not changed: " + pr.Error})
		}
	}
	return res, nil
}

func describe(cs []*pair.AdminChange) string {
	var parts []string
	for _, c := range cs {
		if c.Kind == "weight" {
			parts = append(parts, "weight "+strconv.Itoa(c.Weight))
		} else {
			parts = append(parts, strings.ToUpper(c.State))
		}
	}
	return strings.Join(parts, ", ")
}

// recordAdmin gives a change of this node its generation and records it:
// max(highest generation seen + 1, now in ms), a hybrid clock. With the
// pair's clocks in step (they must be, within 2 minutes) the later change
// wins; and a change always wins over every change this node had seen
// when it was made, so a node that was away cannot undo it.
func (d *Daemon) recordAdmin(c *pair.AdminChange) {
	s := &d.pair.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	g := max(s.clock+1, d.opts.Now().UnixMilli())
	s.clock, c.Gen = g, g
	if s.admin == nil {
		s.admin = map[string]*pair.AdminChange{}
	}
	cp := *c
	s.admin[c.Key()] = &cp
}

// takeAdmin records a change from the peer when it is newer than what this
// node has for that server; it reports whether to apply it.
func (d *Daemon) takeAdmin(c *pair.AdminChange) bool {
	s := &d.pair.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = max(s.clock, c.Gen)
	if !c.Newer(s.admin[c.Key()]) {
		return false
	}
	if s.admin == nil {
		s.admin = map[string]*pair.AdminChange{}
	}
	cp := *c
	s.admin[c.Key()] = &cp
	return true
}

// pairAdmin is the recorded changes, for the presence.
func (d *Daemon) pairAdmin() []pair.AdminChange {
	s := &d.pair.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pair.AdminChange, 0, len(s.admin))
	for _, c := range s.admin {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// applyPeerAdmin applies a change from the peer on this node only.
func (d *Daemon) applyPeerAdmin(c *pair.AdminChange) error {
	var ch serverChange
	if c.Kind == "weight" {
		w := c.Weight
		ch.weight = &w
	} else {
		a, err := checks.ParseAdmin(c.State)
		if err != nil {
			return err
		}
		ch.admin = &a
	}
	who := "pair: " + c.Node
	if c.Who != "" {
		who += " (" + c.Who + ")"
	}
	return d.applyServer(c.Backend, c.Server, ch, who)
}

// pairOnServer applies an operator's change made on the peer.
func (d *Daemon) pairOnServer(c *pair.AdminChange) pair.ServerResult {
	res := pair.ServerResult{Node: hostname()}
	if !d.takeAdmin(c) {
		res.Status = "stale"
		return res
	}
	if err := d.applyPeerAdmin(c); err != nil {
		res.Status, res.Error = "error", err.Error()
		return res
	}
	res.Status = "applied"
	return res
}

// pairOnPresence applies the peer's recorded changes that are newer than
// this node's: how a node that (re)joins gets the current admin states.
func (d *Daemon) pairOnPresence(p *pair.Presence) {
	d.pairTickets(p)
	for i := range p.Admin {
		c := &p.Admin[i]
		if !d.takeAdmin(c) {
			continue
		}
		if err := d.applyPeerAdmin(c); err != nil {
			d.log.Warn("pair: the peer's server change does not apply here", "server", c.Backend+"/"+c.Server, "error", err)
		}
	}
}
