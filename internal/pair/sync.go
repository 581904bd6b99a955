package pair

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// StatusError is a peer's answer other than 200 OK.
type StatusError struct {
	Peer string
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }

// Unsupported reports whether err says the peer does not know the
// request's path: an older lbd (version skew).
func Unsupported(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusMethodNotAllowed)
}

// Push is `lbctl config push`: the sender's shared part (docs/pair.md).
type Push struct {
	Node    string `json:"node"`
	Version string `json:"version"`
	// File is the sender's config file; Shared its shared part and Hash
	// the SHA-256 of Shared.
	File   string `json:"file"`
	Shared []byte `json:"shared"`
	Hash   string `json:"hash"`
}

// Push results (PushResult.Status).
const (
	PushApplied   = "applied"   // written and reloaded
	PushUnchanged = "unchanged" // the receiver's shared part is the pushed one already
	PushRefused   = "refused"   // invalid (lbd check's error) or not applicable: nothing changed
	PushConflict  = "conflict"  // another push holds the receiver's lock: nothing changed
	PushFailed    = "failed"    // written but the reload failed: the previous file was put back
)

// PushResult is the receiver's answer to a Push.
type PushResult struct {
	Node    string `json:"node"`
	Version string `json:"version"`
	File    string `json:"file"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	// Prev is where the receiver kept its previous file (applied only).
	Prev string `json:"prev,omitempty"`
}

// AdminChange is an operator's change to one server (lbctl server
// drain|enable|disable|weight, or the runtime API's set server), as the
// pair shares it. Gen orders changes to the same server and kind: the
// higher one wins (docs/pair.md#runtime-state).
type AdminChange struct {
	Backend string `json:"backend"`
	Server  string `json:"server"`
	// Kind is "state" (State: ready, drain or maint) or "weight" (Weight).
	Kind   string `json:"kind"`
	State  string `json:"state,omitempty"`
	Weight int    `json:"weight,omitempty"`
	Gen    int64  `json:"gen"`
	Node   string `json:"node"`
	Who    string `json:"who,omitempty"`
}

// Key identifies what a change applies to.
func (c *AdminChange) Key() string { return c.Backend + "/" + c.Server + " " + c.Kind }

// Newer reports whether c wins over o (nil: always): a higher generation,
// or on a tie the higher node name, so both nodes pick the same.
func (c *AdminChange) Newer(o *AdminChange) bool {
	if o == nil {
		return true
	}
	if c.Gen != o.Gen {
		return c.Gen > o.Gen
	}
	return c.Node > o.Node
}

// ServerResult is the peer's answer to an AdminChange.
type ServerResult struct {
	Node string `json:"node"`
	// Status: "applied", "stale" (the peer has a newer change for that
	// server: kept), or "error" (Error says why: unknown server...).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (l *Link) servePush(w http.ResponseWriter, r *http.Request) {
	m, ok := l.acceptLimit(w, r, maxConfigBody)
	if !ok {
		return
	}
	l.contact()
	if m.Push == nil {
		l.refuse("bad_message", r.RemoteAddr, "push message without a config")
		http.Error(w, "no push", http.StatusBadRequest)
		return
	}
	if l.opts.OnPush == nil {
		http.Error(w, "this node does not take pushes", http.StatusNotFound)
		return
	}
	res := l.opts.OnPush(r.Context(), m.Push)
	l.answer(w, &message{PushResult: &res})
}

func (l *Link) serveServer(w http.ResponseWriter, r *http.Request) {
	m, ok := l.accept(w, r)
	if !ok {
		return
	}
	l.contact()
	if m.Server == nil {
		l.refuse("bad_message", r.RemoteAddr, "server message without a change")
		http.Error(w, "no change", http.StatusBadRequest)
		return
	}
	if l.opts.OnServer == nil {
		http.Error(w, "this node does not take server changes", http.StatusNotFound)
		return
	}
	res := l.opts.OnServer(m.Server)
	l.answer(w, &message{ServerResult: &res})
}

// pushTimeout bounds a whole push: the receiver validates, writes and
// reloads before it answers.
const pushTimeout = 15 * time.Second

// SendPush sends a config push to the peer and returns its answer. A peer
// that cannot be reached fails within pair.timeout.
func (l *Link) SendPush(ctx context.Context, p *Push) (*PushResult, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout+pushTimeout)
	defer cancel()
	ans, err := l.callWith(l.slow, ctx, pathPush, &message{Push: p}, maxPresenceBody)
	if err != nil {
		return nil, err
	}
	if ans.PushResult == nil {
		return nil, fmt.Errorf("peer %s answered without a push result", l.peerAddr())
	}
	return ans.PushResult, nil
}

// SendServer sends an operator's server change to the peer.
func (l *Link) SendServer(ctx context.Context, c *AdminChange) (*ServerResult, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout+time.Second)
	defer cancel()
	ans, err := l.call(ctx, pathServer, &message{Server: c}, maxPresenceBody)
	if err != nil {
		return nil, err
	}
	if ans.ServerResult == nil {
		return nil, fmt.Errorf("peer %s answered without a result", l.peerAddr())
	}
	return ans.ServerResult, nil
}

// PeerAddr is the address the link dials the peer at ("" unpaired).
func (l *Link) PeerAddr() string { return l.peerAddr() }

// PeerName is the peer's node name as last heard ("" never heard).
func (l *Link) PeerName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peer == nil {
		return ""
	}
	return l.peer.Node
}
