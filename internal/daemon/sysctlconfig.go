package daemon

import (
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/sysctl"
)

// SysctlOptions maps a loaded config onto the sysctl table's options.
// config.Load has already filled every default (flags on, file_max,
// conntrack_max), so this is a plain copy; sysctl.apply: false becomes a
// read-only run. A bgp section puts its prefixes on a local loopback or
// dummy device, so it turns on the table's ARP rows for such VIPs.
func SysctlOptions(cfg *config.Config) sysctl.Options {
	s := cfg.Sysctl
	return sysctl.Options{
		NonlocalBind: config.True(s.IPNonlocalBind),
		Forward:      config.True(s.IPForward),
		FileMax:      s.FileMax,
		ConntrackMax: s.ConntrackMax,
		LoopbackVIP:  cfg.BGP != nil,
		Maxconn:      cfg.Global.Maxconn,
		ReadOnly:     !config.True(s.Apply),
	}
}

// sysctlStatus maps the sysctl results onto what lbctl status serves.
func sysctlStatus(rs []sysctl.Result) []control.SysctlResult {
	out := make([]control.SysctlResult, len(rs))
	for i, r := range rs {
		out[i] = control.SysctlResult{Key: r.Key, Old: r.Old, New: r.New, Changed: r.Changed, Warning: r.Warning}
	}
	return out
}
