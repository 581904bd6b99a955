package proxy

import "time"

// HTTP/2 limits (docs/proxy.md, "HTTP/2"). They follow HAProxy's defaults
// where HAProxy has one; every one bounds what a client can make lbd hold
// or do.
const (
	// h2MaxStreams is SETTINGS_MAX_CONCURRENT_STREAMS (HAProxy's
	// tune.h2.max-concurrent-streams is 100). A stream counts until its
	// exchange has finished, even after the client reset it, so that
	// resetting streams never buys more concurrent work.
	h2MaxStreams = 100
	// h2MaxHeaderList is SETTINGS_MAX_HEADER_LIST_SIZE (RFC 7541 sizes:
	// name + value + 32 per field). Requests are forwarded as HTTP/1.1
	// heads, which are limited to h1.MaxHeadBytes (15 KiB of HAProxy's
	// 16 KiB bufsize), so a larger list could not be forwarded anyway:
	// beyond it the stream is answered 431.
	h2MaxHeaderList = 16 << 10
	// h2MaxHeaderBlockWire bounds the bytes of one header block on the wire
	// (HEADERS and all its CONTINUATION frames, frame headers included):
	// a CONTINUATION flood, even of empty frames, ends the connection
	// (GOAWAY ENHANCE_YOUR_CALM) after this many bytes.
	h2MaxHeaderBlockWire = 4*h2MaxHeaderList + 16<<10
	// h2TableSize is SETTINGS_HEADER_TABLE_SIZE, the HPACK dynamic table of
	// the decoder (RFC 9113's default); the encoder's table follows the
	// client's setting, capped at the same size.
	h2TableSize = 4096
	// h2MaxFrame is SETTINGS_MAX_FRAME_SIZE (the protocol minimum): larger
	// frames are a FRAME_SIZE_ERROR.
	h2MaxFrame = 16384
	// h2StreamWindow is the initial stream receive window (RFC default):
	// it bounds the request body bytes buffered per stream, so a
	// connection buffers at most h2MaxStreams * 64 KiB of request bodies.
	// The connection window is refunded as DATA arrives.
	h2StreamWindow = 65535

	// Abuse limits: token buckets per connection, refilled every second.
	// Past a bucket's bound the connection is sent GOAWAY
	// ENHANCE_YOUR_CALM and closed (after its running streams are torn
	// down).
	//
	// h2ResetBurst/h2ResetRate bound streams the client resets while
	// they are being served (the rapid reset attack, CVE-2023-44487) and
	// streams refused over h2MaxStreams.
	h2ResetBurst = 200
	h2ResetRate  = 50
	// h2CtrlBurst/h2CtrlRate bound PING, SETTINGS, PRIORITY, empty DATA
	// (no END_STREAM) and WINDOW_UPDATE frames that carry no request.
	h2CtrlBurst = 1000
	h2CtrlRate  = 200
)

// h2Preface is the client connection preface (RFC 9113 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// bucket is a token bucket refilled per second.
type bucket struct {
	tokens float64
	last   time.Time
}

// take removes one token, refilling at rate per second up to burst; false:
// empty.
func (b *bucket) take(now time.Time, burst, rate float64) bool {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
	}
	b.tokens += now.Sub(b.last).Seconds() * rate
	b.last = now
	if b.tokens > burst {
		b.tokens = burst
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
