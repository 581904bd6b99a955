package control

import (
	"context"
	"net/http"
)

// BGPBackend is implemented by a Backend that runs a BGP speaker.
type BGPBackend interface {
	// BGPWithdraw withdraws the routes until BGPResume (maintenance).
	BGPWithdraw(who string) error
	// BGPResume announces again while tracking allows it.
	BGPResume(who string) error
}

var errNoBGP = &NotFoundError{Msg: "this lbd has no bgp support"}

func handleBGP(mux *http.ServeMux, b Backend) {
	bb, ok := b.(BGPBackend)
	mux.HandleFunc("POST /v1/bgp/withdraw", func(w http.ResponseWriter, r *http.Request) {
		if !ok {
			reply(w, errNoBGP)
			return
		}
		reply(w, bb.BGPWithdraw(who(r)))
	})
	mux.HandleFunc("POST /v1/bgp/resume", func(w http.ResponseWriter, r *http.Request) {
		if !ok {
			reply(w, errNoBGP)
			return
		}
		reply(w, bb.BGPResume(who(r)))
	})
}

// BGPWithdraw withdraws this node's BGP routes (lbctl bgp withdraw).
func (c *Client) BGPWithdraw(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/bgp/withdraw", nil, nil)
}

// BGPResume ends a BGP withdraw (lbctl bgp resume).
func (c *Client) BGPResume(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/bgp/resume", nil, nil)
}
