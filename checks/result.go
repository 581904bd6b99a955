package checks

import "time"

// Code is an HAProxy check status code, as shown in the stats page and in
// `lbctl status` (the check "result").
type Code string

// Check status codes. The reason strings are those HAProxy prints.
const (
	// L4OK: TCP connect succeeded (TCP check).
	L4OK Code = "L4OK"
	// L4TOUT: TCP connect timed out.
	L4TOUT Code = "L4TOUT"
	// L4CON: TCP connect failed (refused, unreachable, reset).
	L4CON Code = "L4CON"
	// L6OK: the TLS handshake succeeded (TCP check over TLS).
	L6OK Code = "L6OK"
	// L6TOUT: the TLS handshake timed out.
	L6TOUT Code = "L6TOUT"
	// L6RSP: the TLS handshake failed (certificate not verified, ...).
	L6RSP Code = "L6RSP"
	// L7OK: the HTTP response matched.
	L7OK Code = "L7OK"
	// L7TOUT: no (complete) HTTP response before the timeout.
	L7TOUT Code = "L7TOUT"
	// L7RSP: the response was not valid HTTP or the expected string was
	// missing.
	L7RSP Code = "L7RSP"
	// L7STS: the HTTP status did not match.
	L7STS Code = "L7STS"
	// SOCKERR: the check could not even start (bad address, aborted).
	SOCKERR Code = "SOCKERR"
)

// OK reports whether the code counts as a successful check.
func (c Code) OK() bool { return c == L4OK || c == L6OK || c == L7OK }

// Reason is HAProxy's human description of the code.
func (c Code) Reason() string {
	switch c {
	case L4OK:
		return "Layer4 check passed"
	case L4TOUT:
		return "Layer4 timeout"
	case L4CON:
		return "Layer4 connection problem"
	case L6OK:
		return "Layer6 check passed"
	case L6TOUT:
		return "Layer6 timeout"
	case L6RSP:
		return "Layer6 invalid response"
	case L7OK:
		return "Layer7 check passed"
	case L7TOUT:
		return "Layer7 timeout"
	case L7RSP:
		return "Layer7 invalid response"
	case L7STS:
		return "Layer7 wrong status"
	case SOCKERR:
		return "Socket error"
	}
	return "Unknown"
}

// Result is the outcome of one check.
type Result struct {
	Code Code
	// Status is the HTTP status code of the response; 0 when none was read.
	Status int
	// Info is extra detail ("Connection refused", "HTTP content check did
	// not match"), bounded in length; may be empty.
	Info string
	// Duration is how long the check took.
	Duration time.Duration
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Code.OK() }

// Reason is the HAProxy reason string of the result's code.
func (r Result) Reason() string { return r.Code.Reason() }

const maxInfo = 128

// info bounds a detail string for logs and status output.
func info(s string) string {
	if len(s) > maxInfo {
		s = s[:maxInfo]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f || c == '"' {
			b[i] = ' '
		}
	}
	return string(b)
}
