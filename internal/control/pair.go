package control

import (
	"context"
	"net/http"
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
	// ConfigHash is the SHA-256 of this node's whole config file, and
	// PeerConfigHash the peer's. ConfigInSync compares them (whole files,
	// node-local keys included: see docs/pair.md); DiffersSince is when
	// they were first seen to differ.
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
}

// PairBackend is implemented by a Backend with a pair link.
type PairBackend interface {
	// PeerConfig returns this node's config file and the peer's.
	PeerConfig(ctx context.Context) (*PeerConfig, error)
}

// pairRoutes adds the pair routes when b has a pair side.
func pairRoutes(mux *http.ServeMux, b Backend) {
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
