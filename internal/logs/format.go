package logs

import (
	"net/netip"
	"strconv"
	"time"
)

// MaxRequestLine bounds the request line copied into a log line (after
// escaping). HAProxy truncates its whole line at 1024 bytes by default; lbd
// truncates only the request line and keeps the closing quote, so every line
// stays parseable.
const MaxRequestLine = 1024

// maxField bounds any other free-text field (names, cookies).
const maxField = 256

// NoServer is printed in place of the server name when no server was reached.
const NoServer = "<NOSRV>"

// BadRequest is printed (quoted) in place of an unparsable request line.
const BadRequest = "<BADREQ>"

// Append appends r's access-log message (no syslog header, no newline) to
// dst: the tcplog format when r.TCP is set, the httplog format otherwise.
func Append(dst []byte, r *Record) []byte {
	if r.TCP {
		return AppendTCP(dst, r)
	}
	return AppendHTTP(dst, r)
}

// AppendHTTP appends r in HAProxy's `option httplog` format:
//
//	%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
//
// Captured header blocks (%hr %hs) are absent, as HAProxy prints them only
// when `capture` is configured. It does not allocate when dst has room.
func AppendHTTP(dst []byte, r *Record) []byte {
	dst = appendHead(dst, r)
	dst = appendMs(dst, r.TR)
	dst = append(dst, '/')
	dst = appendMs(dst, r.Tw)
	dst = append(dst, '/')
	dst = appendMs(dst, r.Tc)
	dst = append(dst, '/')
	dst = appendMs(dst, r.Tr)
	dst = append(dst, '/')
	dst = appendMs(dst, r.Ta)
	dst = append(dst, ' ')
	if r.Status > 0 {
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
	} else {
		dst = append(dst, "-1"...)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.BytesRead, 10)
	dst = append(dst, ' ')
	dst = appendField(dst, r.ReqCookie, maxField)
	dst = append(dst, ' ')
	dst = appendField(dst, r.RespCookie, maxField)
	dst = append(dst, ' ')
	dst = appendState(dst, r.Termination, 4)
	dst = append(dst, ' ')
	dst = appendConns(dst, r)
	dst = append(dst, ' ', '"')
	if r.RequestLine == "" {
		dst = append(dst, BadRequest...)
	} else {
		dst = appendEscaped(dst, r.RequestLine, MaxRequestLine, false)
	}
	return append(dst, '"')
}

// AppendTCP appends r in HAProxy's `option tcplog` format:
//
//	%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
//
// Tt is the record's total time (Ta). It does not allocate when dst has room.
func AppendTCP(dst []byte, r *Record) []byte {
	dst = appendHead(dst, r)
	dst = appendMs(dst, r.Tw)
	dst = append(dst, '/')
	dst = appendMs(dst, r.Tc)
	dst = append(dst, '/')
	dst = appendMs(dst, r.Ta)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.BytesRead, 10)
	dst = append(dst, ' ')
	dst = appendState(dst, r.Termination, 2)
	dst = append(dst, ' ')
	return appendConns(dst, r)
}

// appendHead writes the fields common to both formats, up to and including
// the space before the timers: "ci:cp [date] ft be/srv ".
func appendHead(dst []byte, r *Record) []byte {
	dst = appendClient(dst, r.Client)
	dst = append(dst, ' ', '[')
	dst = AppendDate(dst, r.AcceptedAt)
	dst = append(dst, ']', ' ')
	dst = appendField(dst, r.Frontend, maxField)
	if r.TLS {
		dst = append(dst, '~') // HAProxy's %ft: the frontend of a TLS connection
	}
	dst = append(dst, ' ')
	be := r.Backend
	if be == "" {
		// HAProxy names the frontend when no backend was selected.
		be = r.Frontend
	}
	dst = appendField(dst, be, maxField)
	dst = append(dst, '/')
	if r.Server == "" {
		dst = append(dst, NoServer...)
	} else {
		dst = appendField(dst, r.Server, maxField)
	}
	return append(dst, ' ')
}

// appendConns writes "ac/fc/bc/sc/[+]rc sq/bq".
func appendConns(dst []byte, r *Record) []byte {
	dst = strconv.AppendInt(dst, r.ActConn, 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, r.FeConn, 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, r.BeConn, 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, r.SrvConn, 10)
	dst = append(dst, '/')
	if r.Redispatch {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, int64(r.Retries), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.SrvQueue, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, r.BackendQueue, 10)
}

// appendClient writes "ip:port" as HAProxy does: IPv6 without brackets, IPv4
// mapped addresses unmapped, "-:-" when unknown.
func appendClient(dst []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return append(dst, "-:-"...)
	}
	dst = ap.Addr().Unmap().WithZone("").AppendTo(dst)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, uint64(ap.Port()), 10)
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// AppendDate appends t as dd/Mon/yyyy:HH:MM:SS.mmm in t's location.
func AppendDate(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append2(dst, d)
	dst = append(dst, '/')
	dst = append(dst, months[mo-1]...)
	dst = append(dst, '/')
	dst = append4(dst, y)
	dst = append(dst, ':')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, s)
	dst = append(dst, '.')
	ms := t.Nanosecond() / 1e6
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}

func append4(dst []byte, v int) []byte {
	if v < 0 || v > 9999 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendMs writes d in whole milliseconds, or -1 for a phase that never
// happened (negative duration).
func appendMs(dst []byte, d time.Duration) []byte {
	if d < 0 {
		return append(dst, "-1"...)
	}
	return strconv.AppendInt(dst, int64(d/time.Millisecond), 10)
}

// appendState writes a termination state of exactly n characters, padding
// with '-' and replacing anything but letters and '-' by '-'.
func appendState(dst []byte, s string, n int) []byte {
	for i := 0; i < n; i++ {
		c := byte('-')
		if i < len(s) {
			if b := s[i]; b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' {
				c = b
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// appendField writes a space-free token: "-" when empty, otherwise s with
// spaces, quotes and non-printable bytes encoded, truncated at max bytes.
func appendField(dst []byte, s string, max int) []byte {
	if s == "" {
		return append(dst, '-')
	}
	return appendEscaped(dst, s, max, true)
}

const hexDigits = "0123456789ABCDEF"

// appendEscaped copies s encoding control bytes, bytes >= 0x7f, '"' and '#'
// as "#XX" (HAProxy's log encoding); with space set, ' ' is encoded too. At
// most max output bytes are written.
func appendEscaped(dst []byte, s string, max int, space bool) []byte {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '#' || (space && c == ' ') {
			if n+3 > max {
				break
			}
			dst = append(dst, '#', hexDigits[c>>4], hexDigits[c&0xf])
			n += 3
			continue
		}
		if n+1 > max {
			break
		}
		dst = append(dst, c)
		n++
	}
	return dst
}
