package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
	"github.com/lbd-ha/lbd/proxy"
)

// tlsSet owns the TLS side of the running config: the session ticket keys
// (one set for the whole process, so tickets survive reloads) and the
// certificate stores of the TLS binds now serving.
//
// Every start and reload loads the certificates anew (certs.New) and builds
// new tls.Configs: new handshakes use the files as they are now, open
// connections keep the session they have. A certificate that does not load
// fails the reload before anything is swapped (config.Load has already
// checked it), so the previous certificates keep serving and the reload
// result says which file and why.
type tlsSet struct {
	mu     sync.Mutex
	keys   *certs.TicketKeys
	share  *pair.TicketSync // rotates keys and shares them with the peer
	stores []boundStore
}

type boundStore struct {
	frontend, bind string
	store          *certs.Store
}

// build adds the TLS configurations to pc (mapped from cfg by proxyConfig)
// and returns the stores to commit once the proxy took the config.
// challenge, when not nil, answers ACME TLS-ALPN-01 on every TLS bind.
func (ts *tlsSet) build(ctx context.Context, cfg *config.Config, pc *proxy.Config, challenge func(*tls.ClientHelloInfo) (*tls.Certificate, bool)) ([]boundStore, error) {
	if !cfg.HasTLS() {
		return nil, nil
	}
	keys, err := ts.ticketKeys(ctx, cfg.Global.TLSTickets)
	if err != nil {
		return nil, err
	}
	var out []boundStore
	for i := range cfg.Frontends {
		f := &cfg.Frontends[i]
		pf := &pc.Frontends[i]
		for _, b := range f.Bind {
			if b.SSL == nil {
				continue
			}
			co := cfg.BindCertOptions(b.SSL)
			for _, dir := range co.AllowEmpty {
				// The ACME directory: make it now (as acme.NewStore
				// does) so that the bind loads before the first
				// certificate and the reload after it finds the file.
				if err := ensureACMECertDir(cfg.TLS.ACME.StateDir, dir); err != nil {
					return nil, fmt.Errorf("frontend %s: bind %s: %w", f.Name, b.Address, err)
				}
			}
			st, _, err := certs.New(co)
			if err != nil {
				return nil, fmt.Errorf("frontend %s: bind %s: %w", f.Name, b.Address, err)
			}
			so := b.SSL.ServerOptions(cfg.Global.SSLDefaultBind)
			so.TicketKeys = keys
			so.Challenge = challenge
			tc, _, err := so.Config(st)
			if err != nil {
				return nil, fmt.Errorf("frontend %s: bind %s: %w", f.Name, b.Address, err)
			}
			if pf.TLS == nil {
				pf.TLS = map[string]*tls.Config{}
			}
			pf.TLS[b.Address] = tc
			out = append(out, boundStore{frontend: f.Name, bind: b.Address, store: st})
		}
	}
	return out, nil
}

// ticketKeys makes the process's ticket keys on first use and rotates them
// until ctx ends (with a pair link, only the owner rotates: the other node
// uses the owner's keys, pair.TicketSync). A later change of
// global.tls_tickets applies at restart.
func (ts *tlsSet) ticketKeys(ctx context.Context, t *config.TLSTickets) (*certs.TicketKeys, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.keys != nil {
		return ts.keys, nil
	}
	every, keep := config.DefaultTicketRotation, config.DefaultTicketKeep
	if t != nil {
		every = t.Rotate
		if t.Keep != nil {
			keep = *t.Keep
		}
	}
	k, err := certs.NewTicketKeys(every, keep)
	if err != nil {
		return nil, fmt.Errorf("session ticket keys: %w", err)
	}
	ts.keys = k
	ts.share = pair.NewTicketSync(k, nil)
	go ts.share.Run(ctx)
	return k, nil
}

// ticketShare is the ticket key sharing, nil before the keys exist (no
// TLS bind yet).
func (ts *tlsSet) ticketShare() *pair.TicketSync {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.share
}

func (ts *tlsSet) commit(stores []boundStore) {
	ts.mu.Lock()
	ts.stores = stores
	ts.mu.Unlock()
}

// certificates lists the certificates served now.
func (ts *tlsSet) certificates() []control.CertStatus {
	ts.mu.Lock()
	stores := ts.stores
	ts.mu.Unlock()
	var out []control.CertStatus
	for _, bs := range stores {
		for _, in := range bs.store.Info() {
			out = append(out, control.CertStatus{
				Frontend: bs.frontend, Bind: bs.bind, File: in.File, Names: in.Names, Subject: in.Subject,
				Issuer: in.Issuer, NotBefore: in.NotBefore, NotAfter: in.NotAfter, DaysLeft: in.DaysLeft,
				KeyType: in.KeyType, Default: in.Default,
			})
		}
	}
	return out
}
