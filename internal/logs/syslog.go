package logs

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Severity is a syslog severity (RFC 3164/5424): Emerg (0) .. Debug (7).
type Severity int

// Syslog severities.
const (
	Emerg Severity = iota
	Alert
	Crit
	Err
	Warning
	Notice
	Info
	Debug
)

var severityNames = map[string]Severity{
	"emerg": Emerg, "alert": Alert, "crit": Crit, "err": Err, "error": Err,
	"warning": Warning, "warn": Warning, "notice": Notice, "info": Info, "debug": Debug,
}

// ParseSeverity parses a level name as HAProxy's `log` line takes it
// (emerg alert crit err warning notice info debug); "" is info.
func ParseSeverity(s string) (Severity, error) {
	if s == "" {
		return Info, nil
	}
	if v, ok := severityNames[strings.ToLower(s)]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown syslog level %q (want emerg, alert, crit, err, warning, notice, info or debug)", s)
}

var facilityNames = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "auth2": 10, "authpriv": 10, "ftp": 11, "ntp": 12,
	"audit": 13, "alert": 14, "cron2": 15, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// ParseFacility parses a syslog facility name (kern, user, daemon,
// local0..local7, ...) into its code; "" is local0.
func ParseFacility(s string) (int, error) {
	if s == "" {
		return 16, nil
	}
	if v, ok := facilityNames[strings.ToLower(s)]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown syslog facility %q (want kern, user, daemon, local0..local7, ...)", s)
}

// targetKind says how a target is reached.
type targetKind int

const (
	kindUDP targetKind = iota
	kindUnix
	kindStdout
	kindStderr
)

// DefaultSyslogPort is used when a UDP address has no port.
const DefaultSyslogPort = 514

// parsedAddr is a LogTarget address after parsing.
type parsedAddr struct {
	kind targetKind
	addr string // host:port for UDP, path for unix
}

// parseAddress accepts "stdout", "stderr", "unix:///path", "/path",
// "udp://host[:port]", "host", "host:port", "[v6]:port" and bare IPv6.
func parseAddress(s string) (parsedAddr, error) {
	if len(s) > 512 {
		return parsedAddr{}, fmt.Errorf("log address too long (%d bytes)", len(s))
	}
	switch {
	case s == "":
		return parsedAddr{}, fmt.Errorf("empty log address")
	case s == "stdout":
		return parsedAddr{kind: kindStdout}, nil
	case s == "stderr":
		return parsedAddr{kind: kindStderr}, nil
	case strings.HasPrefix(s, "unix://"):
		p := strings.TrimPrefix(s, "unix://")
		if !strings.HasPrefix(p, "/") {
			return parsedAddr{}, fmt.Errorf("log address %q: unix socket path must be absolute", s)
		}
		return parsedAddr{kind: kindUnix, addr: p}, nil
	case strings.HasPrefix(s, "/"):
		return parsedAddr{kind: kindUnix, addr: s}, nil
	}
	s = strings.TrimPrefix(s, "udp://")
	if a, err := netip.ParseAddr(s); err == nil {
		return parsedAddr{kind: kindUDP, addr: netip.AddrPortFrom(a, DefaultSyslogPort).String()}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// A bare host name without port.
		if strings.ContainsAny(s, ":/ []") {
			return parsedAddr{}, fmt.Errorf("log address %q: %w", s, err)
		}
		return parsedAddr{kind: kindUDP, addr: net.JoinHostPort(s, strconv.Itoa(DefaultSyslogPort))}, nil
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return parsedAddr{}, fmt.Errorf("log address %q: bad port %q", s, port)
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return parsedAddr{}, fmt.Errorf("log address %q: bad host", s)
	}
	return parsedAddr{kind: kindUDP, addr: net.JoinHostPort(host, port)}, nil
}

// appendSyslogHeader appends the RFC 3164 header HAProxy sends:
//
//	<PRI>Mmm dd hh:mm:ss [hostname ]tag[pid]:<space>
//
// The hostname is omitted when empty (HAProxy's default; rsyslog then
// records the sender's host).
func appendSyslogHeader(dst []byte, pri int, ts timeParts, hostname, tag string, pid int) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(pri), 10)
	dst = append(dst, '>')
	dst = append(dst, months[ts.month-1]...)
	dst = append(dst, ' ')
	if ts.day < 10 {
		dst = append(dst, ' ', byte('0'+ts.day))
	} else {
		dst = append2(dst, ts.day)
	}
	dst = append(dst, ' ')
	dst = append2(dst, ts.hour)
	dst = append(dst, ':')
	dst = append2(dst, ts.min)
	dst = append(dst, ':')
	dst = append2(dst, ts.sec)
	dst = append(dst, ' ')
	if hostname != "" {
		dst = append(dst, hostname...)
		dst = append(dst, ' ')
	}
	dst = append(dst, tag...)
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(pid), 10)
	return append(dst, ']', ':', ' ')
}

// timeParts is a broken-down local time for the syslog header.
type timeParts struct{ month, day, hour, min, sec int }
