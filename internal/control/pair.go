package control

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// PairStatus is the pair link and the peer as this node last heard it
// (`lbctl status`, "pair" in --json). It is a snapshot: reading it never
// waits for the peer.
type PairStatus struct {
	// Listen is this node's pair address; Fingerprint its identity.
	Listen      string `json:"listen"`
	Fingerprint string `json:"fingerprint"`
	// Peer is the peer's address; PeerFingerprint the pinned identity
	// ("" while unpaired: run `lbctl pair join`).
	Peer            string `json:"peer"`
	PeerFingerprint string `json:"peer_fingerprint"`
	// Link is "up", "down" or "unpaired".
	Link string `json:"link"`
	// UpSince is when the link last came up; UnreachableSince when it last
	// went down (zero while up).
	UpSince          time.Time `json:"up_since,omitzero"`
	UnreachableSince time.Time `json:"unreachable_since,omitzero"`
	// LastContact is the last authenticated message from the peer.
	LastContact time.Time `json:"last_contact,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Peer presence, as last received (kept while the link is down).
	PeerNode      string       `json:"peer_node,omitempty"`
	PeerVersion   string       `json:"peer_version,omitempty"`
	VersionSkew   bool         `json:"version_skew"`
	PeerStartedAt time.Time    `json:"peer_started_at,omitzero"`
	PeerUptimeSec float64      `json:"peer_uptime_seconds"`
	PeerVRRP      []PairVRRP   `json:"peer_vrrp"`
	PeerServers   []PairServer `json:"peer_servers"`
	// ConfigHash is the SHA-256 of the shared part of this node's config
	// file (node-local keys left out: docs/pair.md), and PeerConfigHash
	// the peer's. ConfigInSync compares them; DiffersSince is when they
	// were first seen to differ.
	ConfigHash     string    `json:"config_hash"`
	PeerConfigHash string    `json:"peer_config_hash,omitempty"`
	ConfigInSync   bool      `json:"config_in_sync"`
	DiffersSince   time.Time `json:"config_differs_since,omitzero"`
	// SplitBrain lists the VRIDs both nodes hold as MASTER now.
	SplitBrain      []SplitBrain `json:"split_brain"`
	SplitBrainTotal uint64       `json:"split_brain_total"`
	// Refused counts messages and connections refused, by reason
	// (wrong_fingerprint, no_certificate, not_paired, tls_handshake,
	// replay, stale, bad_message, too_large).
	Refused map[string]uint64 `json:"refused"`
	// Tickets is the TLS session ticket key sharing (nil without TLS).
	Tickets *PairTickets `json:"tickets,omitempty"`
}

// PairVRRP is one VRRP instance as a node reports it to its peer.
type PairVRRP struct {
	Name     string `json:"name"`
	VRID     int    `json:"vrid"`
	State    string `json:"state"`
	Priority int    `json:"priority"` // effective
	Base     int    `json:"base_priority"`
}

// PairServer is one server's state as a node sees it.
type PairServer struct {
	Backend string `json:"backend"`
	Server  string `json:"server"`
	State   string `json:"state"`
}

// SplitBrain is one VRID held as MASTER by both nodes while the link is up.
type SplitBrain struct {
	VRID          int       `json:"vrid"`
	Instance      string    `json:"instance"`
	Since         time.Time `json:"since"`
	LocalPriority int       `json:"local_priority"`
	PeerPriority  int       `json:"peer_priority"`
	// StepsDown is "this node" or "peer": who yields by the rule in
	// docs/pair.md; SteppedDown is set once this node has stepped down (instance
	// held in FAULT).
	StepsDown   string `json:"steps_down"`
	SteppedDown bool   `json:"stepped_down,omitempty"`
}

// PeerConfig is the peer's config file as fetched over the pair link.
type PeerConfig struct {
	Node    string `json:"node"`
	File    string `json:"file"`
	Content string `json:"content"`
	Local   string `json:"local_content"`
	// LocalFile is this node's config file.
	LocalFile string `json:"local_file"`
	// Shared and LocalShared are the shared parts (the files without
	// their node-local keys) of the peer's file and this node's: what
	// `lbctl config diff` compares.
	Shared      string `json:"shared"`
	LocalShared string `json:"local_shared"`
}

// PairBackend is implemented by a Backend with a pair link.
type PairBackend interface {
	// PeerConfig returns this node's config file and the peer's.
	PeerConfig(ctx context.Context) (*PeerConfig, error)
}

// pairRoutes adds the pair routes when b has a pair side.
func pairRoutes(mux *http.ServeMux, b Backend) {
	pushRoutes(mux, b)
	pb, ok := b.(PairBackend)
	if !ok {
		return
	}
	mux.HandleFunc("GET /v1/pair/config", func(w http.ResponseWriter, r *http.Request) {
		pc, err := pb.PeerConfig(r.Context())
		if err != nil {
			writeJSON(w, http.StatusBadGateway, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, pc)
	})
}

// PeerConfig fetches this node's and the peer's config files (`lbctl
// config diff`).
func (c *Client) PeerConfig(ctx context.Context) (*PeerConfig, error) {
	var pc PeerConfig
	if err := c.do(ctx, http.MethodGet, "/v1/pair/config", nil, &pc); err != nil {
		return nil, err
	}
	return &pc, nil
}

// PushResult is `lbctl config push`: what each node did, this node first.
type PushResult struct {
	OK    bool       `json:"ok"`
	Nodes []PushNode `json:"nodes"`
}

// PushNode is one node's part of a push.
type PushNode struct {
	Node string `json:"node"`
	File string `json:"file"`
	// Status: "sent" (this node), or the peer's: applied, unchanged,
	// refused, conflict, failed (docs/pair.md#config-push).
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
	// Prev is where the peer kept its previous file.
	Prev    string `json:"prev,omitempty"`
	Version string `json:"version,omitempty"`
}

// ServerChangeResult is what each node did with a server change.
type ServerChangeResult struct {
	OK    bool         `json:"ok"`
	Nodes []NodeChange `json:"nodes,omitempty"`
}

// NodeChange is one node's part of a server change.
type NodeChange struct {
	Node    string `json:"node"`
	Changed bool   `json:"changed"`
	Result  string `json:"result"`
}

// PairSyncBackend is implemented by a Backend that shares config and
// server changes with its peer.
type PairSyncBackend interface {
	// PushConfig sends this node's shared part to the peer.
	PushConfig(ctx context.Context, who string) (*PushResult, error)
	// ChangeServer is SetServerAdmin (state != nil) or SetServerWeight
	// (weight != nil) on both nodes, or on this one only (local).
	ChangeServer(ctx context.Context, backend, server string, state *string, weight *int, local bool, who string) (*ServerChangeResult, error)
}

func pushRoutes(mux *http.ServeMux, b Backend) {
	sb, ok := b.(PairSyncBackend)
	if !ok {
		return
	}
	mux.HandleFunc("POST /v1/pair/push", func(w http.ResponseWriter, r *http.Request) {
		res, err := sb.PushConfig(r.Context(), who(r))
		if err != nil {
			writeJSON(w, http.StatusBadGateway, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// changeServer is the server state and weight routes: on both nodes when
// b shares server changes, else on this one.
func changeServer(w http.ResponseWriter, r *http.Request, b Backend, state *string, weight *int, local bool) {
	be, srv := r.PathValue("backend"), r.PathValue("server")
	sb, ok := b.(PairSyncBackend)
	if !ok {
		if state != nil {
			reply(w, b.SetServerAdmin(be, srv, *state, who(r)))
		} else {
			reply(w, b.SetServerWeight(be, srv, *weight, who(r)))
		}
		return
	}
	res, err := sb.ChangeServer(r.Context(), be, srv, state, weight, local, who(r))
	if err != nil {
		reply(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// PushConfig is `lbctl config push`.
func (c *Client) PushConfig(ctx context.Context) (*PushResult, error) {
	var res PushResult
	if err := c.do(ctx, http.MethodPost, "/v1/pair/push", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ChangeServerState sets a server's admin state on both nodes (local: this
// one only) and says what each did.
func (c *Client) ChangeServerState(ctx context.Context, backend, server, state string, local bool) (*ServerChangeResult, error) {
	var res ServerChangeResult
	err := c.do(ctx, http.MethodPost, "/v1/servers/"+url.PathEscape(backend)+"/"+url.PathEscape(server)+"/state", ServerStateRequest{State: state, Local: local}, &res)
	return &res, err
}

// ChangeServerWeight sets a server's weight on both nodes (local: this one).
func (c *Client) ChangeServerWeight(ctx context.Context, backend, server string, weight int, local bool) (*ServerChangeResult, error) {
	var res ServerChangeResult
	err := c.do(ctx, http.MethodPost, "/v1/servers/"+url.PathEscape(backend)+"/"+url.PathEscape(server)+"/weight", ServerWeightRequest{Weight: weight, Local: local}, &res)
	return &res, err
}

// PairTickets is the session ticket key sharing of the pair
// (docs/pair.md#session-tickets). It never holds a key: KeyID is a short
// hash of the key that encrypts new tickets here, PeerKeyID the peer's.
type PairTickets struct {
	KeyID     string `json:"key_id"`
	PeerKeyID string `json:"peer_key_id,omitempty"`
	// Role: "owner" (this node makes the keys and sends them), "follower"
	// (it uses the owner's), or "local" (link down or unpaired: its own).
	Role string `json:"role"`
	// Shared: both nodes encrypt new tickets with the same key now.
	Shared    bool   `json:"shared"`
	LastError string `json:"last_error,omitempty"`
}
