package control

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ACMECert is one ACME-managed certificate (`lbctl acme status`).
type ACMECert struct {
	Name        string    `json:"name"`
	State       string    `json:"state"` // pending, obtaining, renewing, valid, failing
	File        string    `json:"file,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Issuer      string    `json:"issuer,omitempty"`
	Fingerprint string    `json:"sha256,omitempty"`
	// FailingSince: the running order or renewal has failed since then
	// (the current certificate keeps serving; retried with backoff).
	FailingSince time.Time `json:"failing_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastErrorAt  time.Time `json:"last_error_at,omitzero"`
	// LockHolder is the node ordering or renewing it now ("" when none).
	LockHolder string `json:"lock_holder,omitempty"`
}

// ACMEStatus is the answer of GET /v1/acme.
type ACMEStatus struct {
	Node         string     `json:"node"`
	Directory    string     `json:"directory"`
	Certificates []ACMECert `json:"certificates"`
	// PeerBehind: a write did not reach the peer yet (link down); it is
	// sent when the link returns.
	PeerBehind bool `json:"peer_behind"`
}

// ACMEBackend is what a daemon with ACME offers; optional.
type ACMEBackend interface {
	ACMEStatus() (*ACMEStatus, error)
	ACMERenew(ctx context.Context, name, who string) error
}

func acmeRoutes(mux *http.ServeMux, b Backend) {
	ab, ok := b.(ACMEBackend)
	if !ok {
		return
	}
	mux.HandleFunc("GET /v1/acme", func(w http.ResponseWriter, r *http.Request) {
		st, err := ab.ACMEStatus()
		if err != nil {
			writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /v1/acme/renew", func(w http.ResponseWriter, r *http.Request) {
		reply(w, ab.ACMERenew(r.Context(), r.URL.Query().Get("name"), who(r)))
	})
}

// ACMEStatus fetches the ACME certificates' states.
func (c *Client) ACMEStatus(ctx context.Context) (*ACMEStatus, error) {
	var st ACMEStatus
	if err := c.do(ctx, http.MethodGet, "/v1/acme", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// ACMERenew forces a renewal (an order when there is no certificate yet)
// and waits for it.
func (c *Client) ACMERenew(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/acme/renew?name="+url.QueryEscape(name), nil, nil)
}
