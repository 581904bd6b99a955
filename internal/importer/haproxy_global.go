package importer

import (
	"fmt"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

var facilities = map[string]bool{
	"kern": true, "user": true, "mail": true, "daemon": true, "auth": true, "syslog": true, "lpr": true,
	"news": true, "uucp": true, "cron": true, "auth2": true, "ftp": true, "ntp": true, "audit": true,
	"alert": true, "cron2": true, "local0": true, "local1": true, "local2": true, "local3": true,
	"local4": true, "local5": true, "local6": true, "local7": true,
}

var levels = map[string]bool{
	"emerg": true, "alert": true, "crit": true, "err": true, "warning": true, "notice": true, "info": true, "debug": true,
}

func (m *mapper) mapGlobal(s *hSection) error {
	g := &m.cfg.Global
	m.comments("global", s.hLine)
	for _, l := range s.Lines {
		a := l.Args
		kw := a[0]
		path := func(k string) string { return "global." + k }
		str := func(dst *string, key string) error {
			if len(a) < 2 {
				return m.errf(l.Num, "%s: missing value", kw)
			}
			*dst = a[1]
			m.comments(path(key), l)
			return nil
		}
		var err error
		switch kw {
		case "log":
			err = m.globalLog(l)
		case "maxconn":
			if len(a) < 2 {
				return m.errf(l.Num, "maxconn: missing value")
			}
			g.Maxconn, err = m.atoi(l.Num, "maxconn", a[1], 1, 100000000)
			m.comments(path("maxconn"), l)
		case "nbthread":
			if len(a) < 2 {
				return m.errf(l.Num, "nbthread: missing value")
			}
			g.Threads, err = m.atoi(l.Num, "nbthread", a[1], 1, 4096)
			m.comments(path("threads"), l)
		case "nbproc":
			m.comments("global", l)
			m.note(l.Num, kw, "global", "lbd is one process using every CPU (global.threads sets how many); nbproc not needed")
		case "spread-checks":
			if len(a) < 2 {
				return m.errf(l.Num, "spread-checks: missing value")
			}
			g.SpreadChecks, err = m.atoi(l.Num, "spread-checks", a[1], 0, 50)
			m.comments(path("spread_checks"), l)
		case "hard-stop-after":
			if len(a) < 2 {
				return m.errf(l.Num, "hard-stop-after: missing value")
			}
			g.HardStopAfter, err = m.duration(l.Num, "hard-stop-after", a[1])
			m.comments(path("hard_stop_after"), l)
		case "user", "uid":
			err = str(&g.User, "user")
			if err == nil {
				m.note(l.Num, kw, path("user"), "lbd binds its listeners, then drops to this user (as HAProxy); the systemd unit starts it as root")
			}
		case "group", "gid":
			err = str(&g.Group, "group")
		case "chroot":
			err = str(&g.Chroot, "chroot")
			if err == nil {
				m.note(l.Num, kw, path("chroot"), "lbd enters the chroot after binding and opening the control socket; the directory must exist and should be empty and not writable")
			}
		case "daemon":
			m.comments("global", l)
			m.note(l.Num, kw, "global", "not needed: systemd runs lbd in the foreground (Type=notify) and restarts it")
		case "pidfile":
			m.comments("global", l)
			m.note(l.Num, kw, "global", "not needed: systemd tracks lbd's PID (systemctl show -p MainPID lbd); `lbctl` talks to the control socket")
		case "quiet", "debug":
			m.comments("global", l)
			m.note(l.Num, kw, "global", "not needed: lbd logs to the journal; use lbd --log-level")
		case "ulimit-n":
			m.comments("global", l)
			m.note(l.Num, kw, "global", "set LimitNOFILE= in the systemd unit instead (the lbd unit sets a high limit)")
		case "stats":
			err = m.globalStats(l)
		case "ssl-default-bind-ciphers":
			if g.SSLDefaultBind == nil {
				g.SSLDefaultBind = &config.SSLDefaultBind{}
			}
			err = str(&g.SSLDefaultBind.Ciphers, "ssl_default_bind.ciphers")
		case "ssl-default-bind-options":
			if g.SSLDefaultBind == nil {
				g.SSLDefaultBind = &config.SSLDefaultBind{}
			}
			for i := 1; i < len(a); i++ {
				w := a[i]
				if (w == "ssl-min-ver" || w == "ssl-max-ver") && i+1 < len(a) {
					i++
					w += " " + a[i]
				}
				g.SSLDefaultBind.Options = append(g.SSLDefaultBind.Options, w)
			}
			m.comments(path("ssl_default_bind.options"), l)
		case "ssl-server-verify":
			if len(a) != 2 || (a[1] != "none" && a[1] != "required") {
				return m.errf(l.Num, "ssl-server-verify: want none or required")
			}
			g.SSLServerVerify = a[1]
			m.comments(path("ssl_server_verify"), l)
		case "ssl-default-bind-ciphersuites":
			m.warnf(l.Num, kw, "global", "TLS 1.3 suites cannot be configured in lbd (Go's crypto/tls picks them); left out")
		default:
			if strings.HasPrefix(kw, "tune.") || strings.HasPrefix(kw, "ssl-") || knownKeyword(kw) {
				m.warnf(l.Num, directiveName(a), "global", "not supported; left out")
			} else {
				m.warnf(l.Num, directiveName(a), "global", "unknown keyword, not supported; left out")
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *mapper) globalStats(l hLine) error {
	a := l.Args
	if len(a) < 3 {
		return m.errf(l.Num, "%s: missing value", directiveName(a))
	}
	switch a[1] {
	case "socket":
		if !strings.HasPrefix(a[2], "/") {
			m.warnf(l.Num, "stats socket", "global", "only unix socket paths can become the control socket; %s left out", a[2])
			return nil
		}
		if m.cfg.Global.ControlSocket != "" {
			m.warnf(l.Num, "stats socket", "global.control_socket", "lbd has one control socket; %s left out", a[2])
			return nil
		}
		m.cfg.Global.ControlSocket = a[2]
		m.comments("global.control_socket", l)
		msg := "lbd's control socket: lbctl and HAProxy's runtime API text commands both work on it (socat, hatop, Ansible's haproxy module, haproxy_exporter unix:)" + m.statsSocketOptions(a[3:])
		m.note(l.Num, "stats socket", "global.control_socket", "%s", msg)
	case "timeout", "maxconn":
		m.comments("global", l)
		m.note(l.Num, directiveName(a), "global", "not needed for lbd's control socket; left out")
	default:
		m.warnf(l.Num, directiveName(a), "global", "not supported; left out")
	}
	return nil
}

// globalLog maps `log ADDRESS [len N] [format F] [sample R:S] FACILITY [LEVEL [MINLEVEL]]`.
func (m *mapper) globalLog(l hLine) error {
	a := l.Args[1:]
	if len(a) == 1 && a[0] == "global" {
		m.warnf(l.Num, "log", "global", "`log global` has no meaning in the global section; left out")
		return nil
	}
	if len(a) < 2 {
		return m.errf(l.Num, "log: want log ADDRESS FACILITY [LEVEL [MINLEVEL]]")
	}
	addr := a[0]
	for _, p := range []string{"udp@", "ipv4@", "udp4@", "ipv6@", "udp6@"} {
		addr = strings.TrimPrefix(addr, p)
	}
	switch {
	case strings.HasPrefix(addr, "/"):
		addr = "unix://" + addr
	case addr == "stdout" || addr == "stderr":
		if addr == "stderr" {
			m.note(l.Num, "log", "global.log", "stderr mapped to stdout (both go to the journal under systemd)")
		}
		addr = "stdout"
	case strings.Contains(addr, "@"):
		m.warnf(l.Num, "log", "global", "log target %s not supported (UDP syslog, unix socket, stdout are); left out", a[0])
		return nil
	}
	rest := a[1:]
	for len(rest) >= 2 && (rest[0] == "len" || rest[0] == "format" || rest[0] == "sample" || rest[0] == "profile") {
		m.warnf(l.Num, "log "+rest[0], "global.log", "log %s %s not supported (lbd sends RFC 3164 lines); left out", rest[0], rest[1])
		rest = rest[2:]
	}
	if len(rest) == 0 || !facilities[rest[0]] {
		return m.errf(l.Num, "log: missing or unknown facility in %q", strings.Join(a, " "))
	}
	lt := config.LogTarget{Address: addr, Facility: rest[0]}
	if len(rest) > 1 {
		if !levels[rest[1]] {
			return m.errf(l.Num, "log: unknown level %q", rest[1])
		}
		lt.Level = rest[1]
	}
	if len(rest) > 2 {
		m.warnf(l.Num, "log", "global.log", "minimum level %s not supported; left out", rest[2])
	}
	idx := len(m.cfg.Global.Log)
	m.cfg.Global.Log = append(m.cfg.Global.Log, lt)
	m.comments(fmt.Sprintf("global.log[%d]", idx), l)
	return nil
}

// knownOptions are HAProxy `option` names lbd does not map.
var knownOptions = map[string]bool{
	"abortonclose": true, "accept-invalid-http-request": true, "accept-invalid-http-response": true,
	"allbackups": true, "checkcache": true, "clitcpka": true, "contstats": true, "http-buffer-request": true,
	"http-ignore-probes": true, "http-no-delay": true, "http-pretend-keepalive": true, "http-use-proxy-header": true,
	"http-use-htx": true, "httpclose": true, "independent-streams": true, "log-health-checks": true,
	"log-separate-errors": true, "logasap": true, "nolinger": true, "originalto": true, "persist": true,
	"prefer-last-server": true, "socket-stats": true, "splice-auto": true, "splice-request": true,
	"splice-response": true, "srvtcpka": true, "tcp-smart-accept": true, "tcp-smart-connect": true,
	"tcpka": true, "transparent": true, "http-tunnel": true, "http_proxy": true, "spop-check": true,
	"disable-h2-upgrade": true, "h1-case-adjust-bogus-client": true, "h1-case-adjust-bogus-server": true,
	"idle-close-on-response": true, "dontlog-normal": true, "http-restrict-req-hdr-names": true,
	"httpslog": true, "forwarded": true,
}

// knownKeywords are HAProxy keywords lbd does not map (anything not here and
// not mapped is reported as an unknown keyword).
var knownKeywords = map[string]bool{
	// mapped
	"log": true, "mode": true, "option": true, "no": true, "timeout": true, "contimeout": true,
	"clitimeout": true, "srvtimeout": true, "retries": true, "maxconn": true, "balance": true,
	"cookie": true, "http-check": true, "default-server": true, "server": true, "bind": true, "acl": true,
	"use_backend": true, "default_backend": true, "stats": true, "errorfile": true, "chroot": true,
	"pidfile": true, "user": true, "group": true, "uid": true, "gid": true, "daemon": true,
	"spread-checks": true, "hard-stop-after": true, "nbproc": true, "nbthread": true, "quiet": true, "debug": true, "ulimit-n": true,
	// not mapped
	"description": true, "node": true, "capture": true, "reqadd": true, "reqrep": true, "reqirep": true,
	"reqdel": true, "reqidel": true, "reqdeny": true, "reqideny": true, "reqallow": true, "reqiallow": true,
	"reqpass": true, "reqipass": true, "reqtarpit": true, "reqitarpit": true, "reqsetbe": true, "reqisetbe": true,
	"rspadd": true, "rsprep": true, "rspirep": true, "rspdel": true, "rspidel": true, "rspdeny": true,
	"rspideny": true, "http-request": true, "http-response": true, "http-after-response": true,
	"tcp-request": true, "tcp-response": true, "redirect": true, "block": true, "use-server": true,
	"force-persist": true, "ignore-persist": true, "persist": true, "stick": true, "stick-table": true,
	"appsession": true, "monitor": true, "monitor-uri": true, "monitor-net": true, "fullconn": true,
	"hash-type": true, "hash-balance-factor": true, "dispatch": true, "source": true, "rate-limit": true,
	"grace": true, "id": true, "disabled": true, "enabled": true, "errorloc": true, "errorloc302": true,
	"errorloc303": true, "errorfiles": true, "unique-id-format": true, "unique-id-header": true,
	"log-format": true, "log-format-sd": true, "error-log-format": true, "log-tag": true,
	"log-send-hostname": true, "email-alert": true, "external-check": true, "filter": true,
	"compression": true, "http-reuse": true, "http-send-name-header": true, "max-keep-alive-queue": true,
	"max-session-srv-conns": true, "server-template": true, "server-state-file-name": true,
	"load-server-state-from-file": true, "bind-process": true, "transparent": true, "backlog": true,
	"declare": true, "http-error": true, "use-fcgi-app": true, "srvtcpka-cnt": true, "clitcpka-cnt": true,
	"ca-base": true, "crt-base": true, "maxsslconn": true, "maxconnrate": true,
	"maxsessrate": true, "maxpipes": true, "maxcompcpuusage": true, "maxcomprate": true, "noepoll": true,
	"nopoll": true, "nosplice": true, "nogetaddrinfo": true, "noreuseport": true, "setenv": true,
	"presetenv": true, "unsetenv": true, "resetenv": true, "localpeer": true, "master-worker": true,
	"server-state-base": true, "server-state-file": true, "unix-bind": true, "zero-warning": true,
	"expose-experimental-directives": true, "insecure-fork-wanted": true, "insecure-setuid-wanted": true,
	"set-dumpable": true, "strict-limits": true, "busy-polling": true, "cpu-map": true, "lua-load": true,
	"lua-prepend-path": true, "h1-case-adjust": true, "h1-case-adjust-file": true, "51degrees-data-file": true,
	"wurfl-data-file": true, "deviceatlas-json-file": true, "profiling.tasks": true, "thread-groups": true,
	"pp2-never-send-local": true, "numa-cpu-mapping": true, "mworker-max-reloads": true, "spread-checks-max": true,
	"max-spread-checks": true, "log-send-hostname-tag": true, "httplog-format": true,
}

func knownKeyword(kw string) bool {
	return knownKeywords[kw] || strings.HasPrefix(kw, "tune.") || strings.HasPrefix(kw, "ssl-")
}
