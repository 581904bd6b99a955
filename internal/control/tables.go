package control

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// TableBackend is implemented by a Backend that has stick tables (lbd's
// daemon); the route answers 404 otherwise.
type TableBackend interface {
	Table(name string, max int) (TableShow, error)
}

// TableShow is a stick table and its top entries (`lbctl table show`).
// With a pair link, Counters are this node's part plus the peer's (what the
// fetches see) and Peer the peer's part (docs/pair.md#stick-tables).
type TableShow struct {
	Name      string `json:"name"`
	Size      int    `json:"size"`
	Used      int    `json:"used"`
	Evictions uint64 `json:"evictions"`
	Untracked uint64 `json:"untracked"`
	// PeerSent and PeerReceived count entry updates sent to and merged
	// from the pair peer.
	PeerSent     uint64       `json:"peer_sent,omitempty"`
	PeerReceived uint64       `json:"peer_received,omitempty"`
	Entries      []TableEntry `json:"entries"`
}

// TableEntry is one key with its counters.
type TableEntry struct {
	Key      string            `json:"key"`
	ExpireMS int64             `json:"expire_ms"`
	Refs     int               `json:"refs"`
	Counters map[string]uint64 `json:"counters"`
	// Peer is the pair peer's part of Counters (absent: none).
	Peer map[string]uint64 `json:"peer,omitempty"`
}

func tableRoute(mux *http.ServeMux, b Backend) {
	mux.HandleFunc("GET /v1/tables/{name}", func(w http.ResponseWriter, r *http.Request) {
		tb, ok := b.(TableBackend)
		if !ok {
			reply(w, &NotFoundError{Msg: "no stick tables"})
			return
		}
		max, _ := strconv.Atoi(r.URL.Query().Get("max"))
		t, err := tb.Table(r.PathValue("name"), max)
		if err != nil {
			reply(w, err)
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
}

// Table fetches a stick table's top entries (max 0: all).
func (c *Client) Table(ctx context.Context, name string, max int) (*TableShow, error) {
	var t TableShow
	if err := c.do(ctx, http.MethodGet, "/v1/tables/"+url.PathEscape(name)+"?max="+strconv.Itoa(max), nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
