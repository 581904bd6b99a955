package proxy

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/proxy/h1"
)

// defaultStatsURI matches config.DefaultStatsURI.
const defaultStatsURI = "/lbd?stats"

// statsCfg is a frontend's `stats enable` block.
type statsCfg struct {
	uri   []byte
	realm string
	auth  []string // "user:password"
}

func compileStats(s *config.Stats) *statsCfg {
	if s == nil || !s.Enable {
		return nil
	}
	sc := &statsCfg{uri: []byte(pickStr(s.URI, defaultStatsURI)), realm: pickStr(s.Realm, "lbd statistics"), auth: s.Auth}
	return sc
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
	ok := 0
	for _, a := range s.auth {
		ok |= subtle.ConstantTimeCompare(dec, []byte(a))
	}
	return ok == 1
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
	cc.c.SetWriteDeadline(time.Now().Add(fe.client))
	if _, err := cc.c.Write(out.Bytes()); err != nil {
		return false
	}
	return ka
}
