package stats

import (
	"net/http"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	lbproxy "github.com/lbd-ha/lbd/proxy"
)

// DefaultURI is the stats URI when none is configured (config's default;
// HAProxy's is "/haproxy?stats").
const DefaultURI = config.DefaultStatsURI

// DefaultRealm is the Basic-auth realm when none is configured.
const DefaultRealm = config.DefaultStatsRealm

type handler struct {
	cfg    config.Stats
	uri    string
	realm  string
	source func() control.Status
	now    func() time.Time
}

// New returns the stats page handler: the HTML dashboard at cfg.URI (a
// prefix, as in HAProxy; default DefaultURI) and the CSV export when the
// request URI carries ";csv". ";norefresh" drops the auto-refresh and ";up"
// hides servers that are not UP. With cfg.Auth set, every request needs one
// of the user:password pairs (HTTP Basic). source is called once per
// request. When cfg.Enable is false every request gets 404.
func New(cfg config.Stats, source func() control.Status) http.Handler {
	return newHandler(cfg, source, time.Now)
}

func newHandler(cfg config.Stats, source func() control.Status, now func() time.Time) *handler {
	h := &handler{cfg: cfg, uri: cfg.URI, realm: cfg.Realm, source: source, now: now}
	if h.uri == "" {
		h.uri = DefaultURI
	}
	if h.realm == "" {
		h.realm = DefaultRealm
	}
	// HAProxy's realm is one config word with escaped spaces.
	h.realm = strings.ReplaceAll(h.realm, `\ `, " ")
	return h
}

// Match reports whether r is addressed to the stats page configured by cfg
// (its request URI starts with cfg.URI), for a frontend that serves stats
// next to proxied traffic.
func Match(cfg config.Stats, r *http.Request) bool {
	uri := cfg.URI
	if uri == "" {
		uri = DefaultURI
	}
	return cfg.Enable && strings.HasPrefix(requestURI(r), uri)
}

func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// authorized checks Basic credentials with lbproxy.CheckBasicAuth, the one
// check the proxy's stats URI uses too.
func (h *handler) authorized(r *http.Request) bool {
	if len(h.cfg.Auth) == 0 {
		return true
	}
	user, pass, ok := r.BasicAuth()
	return ok && lbproxy.CheckBasicAuth(h.cfg.Auth, user, pass)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	uri := requestURI(r)
	if !h.cfg.Enable || !strings.HasPrefix(uri, h.uri) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+quoteRealm(h.realm)+`"`)
		http.Error(w, "401 Unauthorized: this page needs a valid user.", http.StatusUnauthorized)
		return
	}
	mods := uri[len(h.uri):]
	st := h.source()
	now := h.now()
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache, no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	upOnly := strings.Contains(mods, ";up")
	if strings.Contains(mods, ";csv") {
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method == http.MethodHead {
			return
		}
		_ = WriteCSV(w, &st, now, upOnly)
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodHead {
		return
	}
	refresh := 0
	if h.cfg.Refresh > 0 && !strings.Contains(mods, ";norefresh") {
		refresh = int((h.cfg.Refresh + time.Second - 1) / time.Second)
	}
	_ = renderHTML(w, buildPage(&st, now, pageOptions{
		hideVersion: h.cfg.HideVersion,
		refresh:     refresh,
		upOnly:      upOnly,
		csvURL:      h.uri + ";csv",
	}))
}

func quoteRealm(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
