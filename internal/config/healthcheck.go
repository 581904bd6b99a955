package config

import (
	"regexp"
	"strings"

	"github.com/lbd-ha/lbd/checks"
)

// Limits on the HTTP check request, so the request line and Host header
// lbd writes stay well formed and bounded.
const (
	maxCheckMethod = 32
	maxCheckURI    = 4096
	maxCheckHost   = 1024
	// maxExpectString: the string must fit in the part of the response the
	// checker reads (checks.MaxResponse) with room for the head.
	maxExpectString = checks.MaxResponse / 2
)

// checkHealthCheck validates a backend's (defaulted) health_check block at
// path: the single place these rules live; the checks engine trusts them.
func (c *checker) checkHealthCheck(path string, hc *HealthCheck) {
	switch hc.Type {
	case "tcp":
		return
	case "http":
	default:
		c.add(path+".type", "must be tcp or http")
		return
	}
	if !httpToken(hc.Method, maxCheckMethod) {
		c.add(path+".method", "method %q is not an HTTP token (letters, digits and !#$%%&'*+-.^_`|~, at most %d)", hc.Method, maxCheckMethod)
	}
	switch {
	case !strings.HasPrefix(hc.URI, "/"):
		c.add(path+".uri", "must start with /")
	case len(hc.URI) > maxCheckURI || !requestText(hc.URI):
		c.add(path+".uri", "uri %q has spaces or control characters, or is longer than %d bytes", hc.URI, maxCheckURI)
	}
	if hc.Version != "HTTP/1.0" && hc.Version != "HTTP/1.1" {
		c.add(path+".version", "must be HTTP/1.0 or HTTP/1.1")
	}
	if len(hc.Host) > maxCheckHost || !requestText(hc.Host) {
		c.add(path+".host", "host %q has spaces or control characters, or is longer than %d bytes", hc.Host, maxCheckHost)
	}
	e := hc.Expect
	if e == nil {
		return
	}
	n := 0
	if e.Status != 0 {
		n++
		if e.Status < 100 || e.Status > 599 {
			c.add(path+".expect.status", "must be 100..599")
		}
	}
	if e.RStatus != "" {
		n++
		if _, err := regexp.Compile(e.RStatus); err != nil {
			c.add(path+".expect.rstatus", "invalid regular expression: %v", err)
		}
	}
	if e.String != "" {
		n++
		if len(e.String) > maxExpectString {
			c.add(path+".expect.string", "longer than %d bytes", maxExpectString)
		}
	}
	if n != 1 {
		c.add(path+".expect", "set exactly one of status, rstatus, string")
	}
}

// httpToken reports whether s is a non-empty RFC 9110 token of at most max
// bytes.
func httpToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// requestText reports whether s can go into a request line or header value
// as is: no spaces, tabs or control characters.
func requestText(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
