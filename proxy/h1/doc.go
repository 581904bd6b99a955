// Package h1 parses and writes HTTP/1.x message heads for the lbd proxy.
//
// The parser works in place over a caller-owned buffer (no allocation per
// message): header names and values are sub-slices of that buffer. It is
// deliberately strict where two HTTP implementations could disagree about
// where a message ends (request smuggling):
//
//   - Content-Length must be digits only; several Content-Length headers or
//     comma lists must all carry the same value; empty elements are rejected.
//   - In requests Transfer-Encoding must end with exactly one "chunked";
//     anything else is rejected. In responses a Transfer-Encoding that does
//     not end with chunked makes the body close-delimited.
//   - Content-Length together with Transfer-Encoding: the Content-Length is
//     dropped (never forwarded) and the connection is closed after the
//     exchange (Head.ForceClose), as HAProxy does.
//   - Header names must be non-empty tokens with no space before the colon;
//     values must not contain NUL, CR, LF or other control characters;
//     obs-fold continuation lines are rejected.
//   - At most MaxHeaders header lines and MaxHeadBytes bytes of head.
//   - Request targets must be visible ASCII without '#'.
//   - Chunk-size lines must end in CRLF (a bare LF is rejected).
//
// Callers re-serialise what they forward from the parsed fields (see the
// Append* helpers), so what the parser acted on is exactly what the next hop
// sees.
package h1
