package proxy

import (
	"reflect"
	"testing"

	"github.com/lbd-ha/lbd/proxy/h1"
	"golang.org/x/net/http2/hpack"
)

// TestResponseFieldsMatchRewrite checks that an HTTP/2 stream's direct
// conversion of the server's head (responseFields, used when no rule and
// no cookie applies) gives the fields and the byte count that rendering
// the head with appendClientHead and parsing it back gives.
func TestResponseFieldsMatchRewrite(t *testing.T) {
	heads := []string{
		"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 612\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Mixed-Case: AbC\r\nTrailer: X-Sum\r\n\r\n",
		"HTTP/1.0 200 Fine\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nDate: Sat, 05 Dec 2026 03:00:00 GMT\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 99\r\n\r\n",
		"HTTP/1.1 404 \r\nContent-Length: 0\r\nSet-Cookie: a=b; Path=/\r\nSet-Cookie: c=d\r\n\r\n",
		"HTTP/1.1 500 Internal Server Error\r\nX-Very-Long-Header-Name-That-Is-Longer-Than-Sixty-Four-Bytes-For-Sure-Yes: v\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
	}
	for _, raw := range heads {
		for _, head := range []bool{false, true} {
			for _, minor := range []int{0, 1} {
				var resp h1.Response
				if err := h1.ParseResponse([]byte(raw), &resp); err != nil {
					t.Fatalf("%q: %v", raw, err)
				}
				kind := resp.ResponseBody(head)
				got, n := responseFields(nil, &resp, kind, minor)

				cc := &clientConn{fe: &frontend{}, reqState: &reqState{}}
				cc.resp = resp
				cc.req.Minor = minor
				rendered := cc.appendClientHead(nil, &exchange{be: &backend{}}, true, kind)
				want, _, err := parseHead(nil, nil, rendered)
				if err != nil {
					t.Fatalf("%q: parsing the rendered head %q: %v", raw, rendered, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%q (HEAD %v, HTTP/1.%d): direct fields %v, rendered and parsed %v", raw, head, minor, got, want)
				}
				if n != len(rendered) {
					t.Errorf("%q (HEAD %v, HTTP/1.%d): direct count %d, rendered head %d bytes: %q", raw, head, minor, n, len(rendered), rendered)
				}
			}
		}
	}
	// The fields never carry a connection-specific header (RFC 9113 8.2.2).
	var resp h1.Response
	if err := h1.ParseResponse([]byte(heads[2]), &resp); err != nil {
		t.Fatal(err)
	}
	got, _ := responseFields(nil, &resp, resp.ResponseBody(false), 1)
	if want := []hpack.HeaderField{{Name: ":status", Value: "200"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("connection-specific headers: got %v, want %v", got, want)
	}
}
