package runtimeapi

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbd-ha/lbd/internal/control"
)

// CompatVersion is the HAProxy version whose runtime API answers lbd
// matches (the tests compare with it byte for byte).
const CompatVersion = "2.6.0"

// cmdShowInfo prints "Name: value" lines with the keys and order HAProxy
// uses (the subset lbd has values for); hatop, Ansible and exporters read
// them by name.
func cmdShowInfo(s *session, _ []string) string {
	st := s.b.Status()
	var cur int64
	var cum, req uint64
	for _, f := range st.Frontends {
		cur += f.Sessions
		cum += f.Total
		req += f.Requests
	}
	up := time.Duration(st.UptimeSec * float64(time.Second))
	sec := int64(up / time.Second)
	maxconn := s.b.Maxconn()
	nofile := 0
	if n, err := openFilesLimit(); err == nil {
		nofile = n
	}
	node := st.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	// The version names the HAProxy CLI whose answers lbd reproduces, then
	// lbd's own: tools gate commands on it (Ansible's haproxy module sends
	// `set server ... state drain` only to 1.5 and later).
	version := CompatVersion + "-lbd-" + st.Version
	kv := [][2]string{
		{"Name", "lbd"},
		{"Version", version},
		{"Release_date", releaseDate()},
		{"Nbthread", fmt.Sprint(runtime.GOMAXPROCS(0))},
		{"Nbproc", "1"},
		{"Process_num", "1"},
		{"Pid", fmt.Sprint(st.PID)},
		{"Uptime", fmt.Sprintf("%dd %dh%02dm%02ds", sec/86400, sec/3600%24, sec/60%60, sec%60)},
		{"Uptime_sec", fmt.Sprint(sec)},
		{"Memmax_MB", "0"},
		{"Ulimit-n", fmt.Sprint(nofile)},
		{"Maxsock", fmt.Sprint(nofile)},
		{"Maxconn", fmt.Sprint(maxconn)},
		{"Hard_maxconn", fmt.Sprint(maxconn)},
		{"CurrConns", fmt.Sprint(cur)},
		{"CumConns", fmt.Sprint(cum)},
		{"CumReq", fmt.Sprint(req)},
		{"Maxpipes", "0"},
		{"PipesUsed", "0"},
		{"PipesFree", "0"},
		{"Tasks", fmt.Sprint(runtime.NumGoroutine())},
		{"Run_queue", "0"},
		{"Idle_pct", "100"},
		{"node", oneLine(node)},
		{"Stopping", "0"},
		{"Jobs", fmt.Sprint(cur)},
		{"Listeners", fmt.Sprint(listeners(st.Frontends))},
		{"DroppedLogs", "0"},
		{"Start_time_sec", fmt.Sprint(st.StartedAt.Unix())},
	}
	var b strings.Builder
	for _, p := range kv {
		b.WriteString(p[0])
		b.WriteString(": ")
		b.WriteString(oneLine(p[1]))
		b.WriteByte('\n')
	}
	return b.String()
}

func listeners(fs []control.FrontendStatus) int {
	n := 0
	for _, f := range fs {
		n += len(f.Binds)
	}
	return n
}

// releaseDate is the build's commit date (YYYY/MM/DD, HAProxy's format), or
// the binary's modification date; tools such as hatop need a value.
func releaseDate() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC().Format("2006/01/02")
				}
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fi.ModTime().UTC().Format("2006/01/02")
		}
	}
	return "unknown"
}

func openFilesLimit() (int, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return int(min(r.Cur, 1<<31-1)), nil
}
