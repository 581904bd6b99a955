package proxy

import (
	"fmt"
	"time"
)

// Redirects (the frontend's `redirects:`, HAProxy's `redirect scheme`) are
// compiled as http-request redirect rules: one validation (compileHTTPRule)
// and one answer (clientConn.redirect, rules.go) serve both forms.

var redirectReasons = map[int]string{
	301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
}

// compileRedirects compiles fc.Redirects into f.redirects.
func compileRedirects(f *frontend, fc *Frontend, env *aclEnv) error {
	for _, r := range fc.Redirects {
		if f.mode != ModeHTTP {
			return fmt.Errorf("redirect: mode http only")
		}
		if r.Scheme == "" {
			return fmt.Errorf("redirect: no scheme")
		}
		hr, err := compileHTTPRule(HTTPRule{Action: "redirect", Scheme: r.Scheme, Status: r.Code, If: r.If, Unless: r.Unless}, false, env, f)
		if err != nil {
			return fmt.Errorf("redirect scheme %s: %w", r.Scheme, err)
		}
		f.redirects = append(f.redirects, hr)
	}
	return nil
}

// redirects answers the first matching redirect; it reports whether one did
// (handled) and whether the connection may carry another request.
func (cc *clientConn) redirects(m *matchCtx, tStart time.Time) (handled, ka bool) {
	for i := range cc.fe.redirects {
		r := &cc.fe.redirects[i]
		if r.cond != nil && !r.cond.eval(m) {
			continue
		}
		return true, cc.redirect(r, tStart)
	}
	return false, false
}
