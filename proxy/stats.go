package proxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// statsCfg is a frontend's `stats enable` block.
type statsCfg struct {
	uri   []byte
	realm string
	auth  []string // "user:password"
}

func compileStats(s *Stats) (*statsCfg, error) {
	if s == nil {
		return nil, nil
	}
	if s.URI == "" {
		return nil, errors.New("stats: empty URI")
	}
	return &statsCfg{uri: []byte(s.URI), realm: s.Realm, auth: s.Auth}, nil
}

// CheckBasicAuth reports whether user and pass match one of the
// "user:password" pairs in auth (stats auth); an empty auth allows anyone.
// It compares SHA-256 digests of "user:password" in constant time and
// tries every pair, so neither the credentials' lengths nor which pair
// matched show in the timing. lbd's stats page and the proxy's stats URI
// both use it.
func CheckBasicAuth(auth []string, user, pass string) bool {
	if len(auth) == 0 {
		return true
	}
	h := sha256.New()
	h.Write([]byte(user))
	h.Write([]byte{':'})
	h.Write([]byte(pass))
	var given [sha256.Size]byte
	h.Sum(given[:0])
	ok := 0
	for _, a := range auth {
		want := sha256.Sum256([]byte(a))
		ok |= subtle.ConstantTimeCompare(given[:], want[:])
	}
	return ok == 1
}

// authorized checks HTTP Basic credentials against `stats auth`.
func (s *statsCfg) authorized(req *h1.Request) bool {
	if len(s.auth) == 0 {
		return true
	}
	v := req.Get("Authorization")
	if len(v) < 6 || !h1.EqualFold(v[:6], "basic ") {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(v[6:])))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok {
		return false
	}
	return CheckBasicAuth(s.auth, user, pass)
}

// statsWriter is a minimal http.ResponseWriter that buffers the page.
type statsWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *statsWriter) Header() http.Header { return w.h }
func (w *statsWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *statsWriter) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	return w.body.Write(p)
}

// serveStats answers a request for the frontend's stats URI (off the hot
// path: it uses net/http types to call Options.StatsHandler). It reports
// whether the connection may stay open.
func (cc *clientConn) serveStats(tStart time.Time) bool {
	fe, req := cc.fe, &cc.req
	sc := fe.stats
	cc.resetRecord(tStart)
	cc.rec.TR = time.Since(tStart)
	cc.rec.Server = "<STATS>"
	cc.term = [4]byte{'L', 'R', '-', '-'}
	w := &statsWriter{h: http.Header{}}
	switch {
	case !sc.authorized(req):
		w.h.Set("WWW-Authenticate", `Basic realm="`+strings.ReplaceAll(sc.realm, `"`, "")+`"`)
		w.h.Set("Content-Type", "text/html")
		w.WriteHeader(401)
		w.body.WriteString("<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n")
		cc.term[0], cc.term[1] = 'P', 'R'
	case cc.e.opts.StatsHandler == nil:
		w.h.Set("Content-Type", "text/plain")
		w.WriteHeader(503)
		w.body.WriteString("statistics are not available\n")
	default:
		hr, err := http.NewRequest(string(req.Method), "http://stats"+string(req.URI), nil)
		if err != nil {
			hr, _ = http.NewRequest("GET", "http://stats/", nil)
		}
		hr.RequestURI = string(req.URI)
		hr.RemoteAddr = cc.src.String()
		for _, h := range req.Headers {
			hr.Header.Add(string(h.Name), string(h.Value))
		}
		hr.URL.RawQuery = strings.TrimPrefix(string(req.URI[min(len(req.URI), len(sc.uri)):]), "?")
		if q, err := url.ParseQuery(hr.URL.RawQuery); err == nil {
			hr.Form = q
		}
		cc.e.opts.StatsHandler.ServeHTTP(w, hr)
		w.WriteHeader(200)
	}
	ka := req.KeepAlive() && !fe.httpClose && cc.keepServing(fe)
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	w.h.Del("Content-Length")
	w.h.Del("Connection")
	w.h.Del("Transfer-Encoding")
	w.h.Set("Cache-Control", "no-cache")
	w.h.Write(&out)
	out.WriteString("Content-Length: " + strconv.Itoa(w.body.Len()) + "\r\n")
	if !ka {
		out.WriteString("Connection: close\r\n")
	}
	out.WriteString("\r\n")
	if string(req.Method) != "HEAD" {
		out.Write(w.body.Bytes())
	}
	fe.st.status(w.status)
	fe.st.bytesOut.Add(uint64(out.Len()))
	cc.rec.Status = w.status
	cc.rec.BytesRead = int64(out.Len())
	cc.emit(tStart, true)
	if cc.h2 != nil {
		return cc.h2.sendPage(out.Bytes()) == nil
	}
	cc.c.SetWriteDeadline(time.Now().Add(fe.client))
	if _, err := cc.out.writeAll(out.Bytes()); err != nil {
		return false
	}
	return ka
}
