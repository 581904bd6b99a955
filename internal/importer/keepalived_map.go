package importer

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
)

// vrrpScript is a keepalived vrrp_script block.
type vrrpScript struct {
	head   []string
	line   int
	script string
	weight int
	used   bool
}

type kaGlobals struct {
	version      int
	garpDelay    *time.Duration
	garpRepeat   int
	garpRefresh  time.Duration
	versionLine  int
	versionGiven bool
}

func (m *mapper) mapKeepalived(f *kFile) error {
	m.file = f.Name
	scripts := map[string]*vrrpScript{}
	g := kaGlobals{version: 2}
	// First pass: global_defs and vrrp_script blocks, which instances use.
	for _, n := range f.Nodes {
		switch n.Args[0] {
		case "global_defs":
			m.head["vrrp"] = append(m.head["vrrp"], n.Head...)
			if err := m.kaGlobalDefs(n, &g); err != nil {
				return err
			}
		case "vrrp_script":
			if len(n.Args) < 2 || !n.HasBlock {
				return m.errf(n.Line, "vrrp_script: want vrrp_script NAME { ... }")
			}
			s := &vrrpScript{line: n.Line, head: n.Head}
			for _, c := range n.Block {
				switch c.Args[0] {
				case "script":
					if len(c.Args) > 1 {
						s.script = strings.Join(c.Args[1:], " ")
					}
				case "weight":
					if len(c.Args) > 1 {
						w, err := m.kaInt(c, c.Args[1], -253, 253)
						if err != nil {
							return err
						}
						s.weight = w
					}
				}
			}
			scripts[n.Args[1]] = s
		}
	}
	for _, n := range f.Nodes {
		switch n.Args[0] {
		case "global_defs", "vrrp_script":
		case "vrrp_instance":
			if err := m.kaInstance(n, &g, scripts); err != nil {
				return err
			}
		case "include":
			m.warnf(n.Line, "include", "vrrp", "include is not supported: import the included file's content (concatenate the files first); left out")
		case "vrrp_sync_group":
			m.warnf(n.Line, "vrrp_sync_group", "vrrp", "sync groups are not supported: lbd instances fail over independently; left out")
		case "virtual_server", "virtual_server_group", "real_server":
			m.warnf(n.Line, n.Args[0], "vrrp", "LVS (IPVS) load balancing is not supported: lbd proxies at layer 4/7 (frontends/backends); left out")
		case "static_ipaddress", "static_routes", "static_rules", "virtual_routes":
			m.warnf(n.Line, n.Args[0], "vrrp", "not supported: configure static addresses and routes in the OS network config; left out")
		default:
			m.warnf(n.Line, n.Args[0], "vrrp", "unknown keyword, not supported; left out")
		}
	}
	for name, s := range scripts {
		if !s.used {
			m.warnf(s.line, "vrrp_script "+name, "vrrp", "script not referenced by any track_script; left out")
		}
	}
	if len(f.Tail) > 0 {
		m.head["#tail"] = append(m.head["#tail"], f.Tail...)
	}
	return nil
}

func (m *mapper) kaGlobalDefs(n *kNode, g *kaGlobals) error {
	for _, c := range n.Block {
		kw := c.Args[0]
		m.head["vrrp"] = append(m.head["vrrp"], c.Head...)
		switch kw {
		case "vrrp_version":
			if len(c.Args) < 2 {
				return m.errf(c.Line, "vrrp_version: missing value")
			}
			v, err := m.kaInt(c, c.Args[1], 2, 3)
			if err != nil {
				return err
			}
			g.version, g.versionGiven, g.versionLine = v, true, c.Line
		case "vrrp_garp_master_delay":
			d, err := m.kaSeconds(c, 0, 1000)
			if err != nil {
				return err
			}
			g.garpDelay = &d
		case "vrrp_garp_master_repeat":
			if len(c.Args) < 2 {
				return m.errf(c.Line, "%s: missing value", kw)
			}
			v, err := m.kaInt(c, c.Args[1], 1, 255)
			if err != nil {
				return err
			}
			g.garpRepeat = v
		case "vrrp_garp_master_refresh":
			d, err := m.kaSeconds(c, 0, 86400)
			if err != nil {
				return err
			}
			g.garpRefresh = d
		case "router_id":
			m.note(c.Line, kw, "vrrp", "not needed: lbd names the node by its hostname in logs and status")
		case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout", "smtp_helo_name", "smtp_alert", "smtp_alert_vrrp":
			m.warnf(c.Line, kw, "vrrp", "e-mail alerts are not supported: use notify commands or lbd's metrics; left out")
		case "enable_script_security", "script_user":
			m.note(c.Line, kw, "vrrp", "not needed: lbd runs notify commands as its own user, without a shell")
		case "vrrp_strict":
			m.warnf(c.Line, kw, "vrrp", "strict mode is not supported: lbd follows RFC 5798 and accepts unicast, auth and preempt_delay; left out")
		default:
			m.warnf(c.Line, kw, "vrrp", "not supported; left out")
		}
	}
	return nil
}

func (m *mapper) kaInt(n *kNode, s string, lo, hi int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, m.errf(n.Line, "%s: invalid number %q (want %d..%d)", n.Args[0], s, lo, hi)
	}
	return v, nil
}

// kaSeconds parses the statement's value as (possibly fractional) seconds.
func (m *mapper) kaSeconds(n *kNode, lo, hi float64) (time.Duration, error) {
	if len(n.Args) < 2 {
		return 0, m.errf(n.Line, "%s: missing value", n.Args[0])
	}
	f, err := strconv.ParseFloat(n.Args[1], 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return 0, m.errf(n.Line, "%s: invalid number of seconds %q (want %g..%g)", n.Args[0], n.Args[1], lo, hi)
	}
	return time.Duration(math.Round(f*1000)) * time.Millisecond, nil
}

// blockKeywords are the vrrp_instance keywords that take a { } block.
var blockKeywords = map[string]bool{
	"authentication": true, "virtual_ipaddress": true, "unicast_peer": true,
	"track_interface": true, "track_script": true, "virtual_ipaddress_excluded": true,
}

func (m *mapper) kaInstance(n *kNode, g *kaGlobals, scripts map[string]*vrrpScript) error {
	if len(n.Args) < 2 || !n.HasBlock {
		return m.errf(n.Line, "vrrp_instance: want vrrp_instance NAME { ... }")
	}
	idx := len(m.cfg.VRRP.Instances)
	path := fmt.Sprintf("vrrp.instances[%d]", idx)
	in := config.VRRPInstance{Name: n.Args[1], Version: g.version, VIPs: []config.VIP{}}
	m.head[path] = append(m.head[path], n.Head...)
	if n.Trailing != "" {
		m.lineComment(path, n.Trailing)
	}
	kp := func(k string) string { return path + "." + k }
	com := func(k string, c *kNode) {
		m.head[kp(k)] = append(m.head[kp(k)], c.Head...)
		if c.Trailing != "" {
			m.lineComment(kp(k), c.Trailing)
		}
	}
	var state string
	var stateLine, advertLine int
	var trackScripts []*kNode
	for _, c := range n.Block {
		kw := c.Args[0]
		val := ""
		if len(c.Args) > 1 {
			val = c.Args[1]
		}
		needVal := func() error {
			if val == "" {
				return m.errf(c.Line, "%s: missing value", kw)
			}
			return nil
		}
		var err error
		if blockKeywords[kw] && !c.HasBlock {
			return m.errf(c.Line, "%s: want a { ... } block", kw)
		}
		switch kw {
		case "state":
			if err = needVal(); err == nil {
				state, stateLine = val, c.Line
				com("priority", c)
			}
		case "interface":
			if err = needVal(); err == nil {
				in.Interface = val
				com("interface", c)
			}
		case "virtual_router_id":
			if err = needVal(); err == nil {
				in.VRID, err = m.kaInt(c, val, 1, 255)
				com("virtual_router_id", c)
			}
		case "priority":
			if err = needVal(); err == nil {
				in.Priority, err = m.kaInt(c, val, 1, 255)
				com("priority", c)
			}
		case "advert_int":
			advertLine = c.Line
			in.AdvertInterval, err = m.kaSeconds(c, 0.01, 255)
			com("advert_interval", c)
		case "version":
			if err = needVal(); err == nil {
				in.Version, err = m.kaInt(c, val, 2, 3)
				com("version", c)
			}
		case "nopreempt":
			in.Preempt = boolp(false)
			com("preempt", c)
		case "preempt":
			in.Preempt = boolp(true)
			com("preempt", c)
		case "preempt_delay":
			in.PreemptDelay, err = m.kaSeconds(c, 0, 1000)
			com("preempt_delay", c)
		case "authentication":
			err = m.kaAuth(c, &in, path)
		case "virtual_ipaddress":
			err = m.kaVIPs(c, &in, path)
		case "virtual_ipaddress_excluded":
			m.warnf(c.Line, kw, path, "not supported: list these addresses under vips (they are then carried in adverts) or configure them in the OS; left out")
		case "unicast_src_ip":
			if err = needVal(); err == nil {
				if net.ParseIP(val) == nil {
					return m.errf(c.Line, "unicast_src_ip: %q is not an IP address", val)
				}
				in.UnicastSrc = val
				com("unicast_src", c)
			}
		case "unicast_peer":
			for _, p := range c.Block {
				if net.ParseIP(p.Args[0]) == nil {
					return m.errf(p.Line, "unicast_peer: %q is not an IP address", p.Args[0])
				}
				in.UnicastPeers = append(in.UnicastPeers, p.Args[0])
				if len(p.Args) > 1 {
					m.warnf(p.Line, "unicast_peer", kp("unicast_peers"), "peer options %q not supported; left out", strings.Join(p.Args[1:], " "))
				}
			}
			com("unicast_peers", c)
		case "track_interface":
			for _, t := range c.Block {
				item := config.TrackItem{Name: t.Args[0]}
				if len(t.Args) >= 3 && t.Args[1] == "weight" {
					item.Weight, err = m.kaInt(t, t.Args[2], -253, 253)
					if err != nil {
						return err
					}
					if len(t.Args) > 3 {
						m.warnf(t.Line, "track_interface", kp("track.interfaces"), "%q not supported; left out", strings.Join(t.Args[3:], " "))
					}
					if item.Weight > 0 {
						m.note(t.Line, "track_interface", kp("track.interfaces"), "weight +%d (added while %s is up) mapped to %d (subtracted while it is down): the same difference between the nodes", item.Weight, item.Name, -item.Weight)
						item.Weight = -item.Weight
					}
				} else if len(t.Args) > 1 {
					m.warnf(t.Line, "track_interface", kp("track.interfaces"), "%q not supported; left out", strings.Join(t.Args[1:], " "))
				}
				in.Track.Interfaces = append(in.Track.Interfaces, item)
			}
			com("track.interfaces", c)
		case "track_script":
			trackScripts = append(trackScripts, c)
		case "notify_master", "notify_backup", "notify_fault", "notify_stop":
			if err = needVal(); err == nil {
				cmd := strings.Join(c.Args[1:], " ")
				switch kw {
				case "notify_master":
					in.Notify.Master = cmd
				case "notify_backup":
					in.Notify.Backup = cmd
				case "notify_fault":
					in.Notify.Fault = cmd
				case "notify_stop":
					in.Notify.Stop = cmd
				}
				key := "notify." + strings.TrimPrefix(kw, "notify_")
				com(key, c)
				m.note(c.Line, kw, kp(key), "lbd runs it without a shell, with the instance name and new state appended as arguments")
			}
		case "notify":
			m.warnf(c.Line, kw, kp("notify"), "the generic notify script is not supported: use notify.master/backup/fault/stop; left out")
		case "garp_master_delay":
			var d time.Duration
			d, err = m.kaSeconds(c, 0, 1000)
			in.GARP.MasterDelay = &d
			com("garp.master_delay", c)
		case "garp_master_repeat":
			if err = needVal(); err == nil {
				in.GARP.MasterRepeat, err = m.kaInt(c, val, 1, 255)
				com("garp.master_repeat", c)
			}
		case "garp_master_refresh":
			in.GARP.MasterRefresh, err = m.kaSeconds(c, 0, 86400)
			com("garp.master_refresh", c)
		case "dont_track_primary":
			m.note(c.Line, kw, path, "lbd does not track the instance's interface unless it is listed in track.interfaces")
		default:
			m.head[path] = append(m.head[path], c.Head...)
			m.warnf(c.Line, kw, path, "not supported; left out")
		}
		if err != nil {
			return err
		}
	}
	if in.Interface == "" {
		return m.errf(n.Line, "vrrp_instance %s: missing interface", in.Name)
	}
	if in.VRID == 0 {
		return m.errf(n.Line, "vrrp_instance %s: missing virtual_router_id", in.Name)
	}
	if in.Priority == 0 {
		in.Priority = 100
		m.lineComment(kp("priority"), "keepalived's default")
	}
	if in.Version == 2 {
		msg := "keepalived's default (VRRPv2)"
		if g.versionGiven {
			msg = fmt.Sprintf("vrrp_version 2 in global_defs (line %d)", g.versionLine)
		}
		m.lineComment(kp("version"), msg+"; lbd's default is 3: change both nodes together")
		if in.AdvertInterval%time.Second != 0 {
			r := (in.AdvertInterval + time.Second/2) / time.Second * time.Second
			if r == 0 {
				r = time.Second
			}
			m.warnf(n.Line, "advert_int", kp("advert_interval"), "VRRPv2 adverts use whole seconds: %s rounded to %s (as keepalived)", formatDuration(in.AdvertInterval), formatDuration(r))
			in.AdvertInterval = r
		}
	} else if in.AuthPass != "" {
		m.warnf(n.Line, "authentication", kp("auth_pass"), "VRRPv3 has no authentication: keepalived ignores it for v3, so does lbd")
	}
	if ai := in.AdvertInterval; ai == 0 || ai >= time.Second {
		line, kw := advertLine, "advert_int"
		if ai == 0 {
			ai = time.Second // keepalived's and lbd's default
			line, kw = n.Line, "advert_int (default)"
		}
		down := 3*ai + time.Duration(256-in.Priority)*ai/256
		m.note(line, kw, kp("advert_interval"), "kept as keepalived.conf has it (%s): a crashed master is replaced after %s; once both nodes run lbd, version 3 with advert_interval 100ms takes over in about 0.36 s", formatDuration(ai), down.Round(time.Millisecond))
	}
	if state != "" {
		m.note(stateLine, "state "+state, kp("priority"), "lbd elects the master by priority (highest wins); state only sets keepalived's start state and is not needed")
	}
	if in.GARP.MasterDelay == nil && g.garpDelay != nil {
		d := *g.garpDelay
		in.GARP.MasterDelay = &d
	}
	if in.GARP.MasterRepeat == 0 {
		in.GARP.MasterRepeat = g.garpRepeat
	}
	if in.GARP.MasterRefresh == 0 {
		in.GARP.MasterRefresh = g.garpRefresh
	}
	for _, c := range trackScripts {
		m.kaTrackScripts(c, &in, kp("track"), scripts)
	}
	m.cfg.VRRP.Instances = append(m.cfg.VRRP.Instances, in)
	return nil
}

func (m *mapper) kaAuth(c *kNode, in *config.VRRPInstance, path string) error {
	var typ, pass string
	for _, a := range c.Block {
		if len(a.Args) < 2 {
			return m.errf(a.Line, "%s: missing value", a.Args[0])
		}
		switch a.Args[0] {
		case "auth_type":
			typ = a.Args[1]
		case "auth_pass":
			pass = a.Args[1]
		default:
			m.warnf(a.Line, a.Args[0], path, "not supported; left out")
		}
	}
	switch typ {
	case "PASS", "":
		if pass == "" {
			m.warnf(c.Line, "authentication", path, "no auth_pass; left out")
			return nil
		}
		if len(pass) > 8 {
			m.warnf(c.Line, "auth_pass", path+".auth_pass", "longer than 8 bytes: truncated to 8, as keepalived does on the wire")
			pass = pass[:8]
		}
		in.AuthPass = pass
		m.head[path+".auth_pass"] = append(m.head[path+".auth_pass"], c.Head...)
	default:
		m.warnf(c.Line, "auth_type "+typ, path, "only PASS authentication is supported; left out")
	}
	return nil
}

func (m *mapper) kaVIPs(c *kNode, in *config.VRRPInstance, path string) error {
	m.head[path+".vips"] = append(m.head[path+".vips"], c.Head...)
	for _, v := range c.Block {
		addr := v.Args[0]
		host, _, _ := strings.Cut(addr, "/")
		if net.ParseIP(host) == nil {
			return m.errf(v.Line, "virtual_ipaddress: %q is not an IP address", addr)
		}
		if _, _, err := net.ParseCIDR(addr); strings.Contains(addr, "/") && err != nil {
			return m.errf(v.Line, "virtual_ipaddress: %q: invalid prefix", addr)
		}
		vip := config.VIP{Address: addr}
		idx := len(in.VIPs)
		vp := fmt.Sprintf("%s.vips[%d]", path, idx)
		if idx > 0 {
			first, _, _ := strings.Cut(in.VIPs[0].Address, "/")
			if (net.ParseIP(first).To4() == nil) != (net.ParseIP(host).To4() == nil) {
				m.warnf(v.Line, "virtual_ipaddress", path+".vips", "%s: one instance carries one address family (keepalived needs virtual_ipaddress_excluded for this too): put it in a second vrrp instance; left out", addr)
				continue
			}
		}
		for i := 1; i < len(v.Args); i++ {
			switch w := v.Args[i]; w {
			case "dev", "label":
				if i+1 >= len(v.Args) {
					return m.errf(v.Line, "virtual_ipaddress %s: %s needs a value", addr, w)
				}
				i++
				if w == "dev" {
					if v.Args[i] != in.Interface || in.Interface == "" {
						vip.Interface = v.Args[i]
					}
				} else {
					vip.Label = v.Args[i]
				}
			case "brd", "scope", "preferred_lft", "peer":
				if i+1 < len(v.Args) {
					i++
				}
				m.warnf(v.Line, "virtual_ipaddress "+w, vp, "option %s not supported; left out", w)
			default:
				m.warnf(v.Line, "virtual_ipaddress "+w, vp, "option %s not supported; left out", w)
			}
		}
		in.VIPs = append(in.VIPs, vip)
		m.head[vp] = append(m.head[vp], v.Head...)
		if v.Trailing != "" {
			m.lineComment(vp, v.Trailing)
		}
	}
	return nil
}

// kaTrackScripts maps track_script { NAME [weight W] } to lbd's built-in
// tracking of its own frontends.
func (m *mapper) kaTrackScripts(c *kNode, in *config.VRRPInstance, path string, scripts map[string]*vrrpScript) {
	for _, t := range c.Block {
		name := t.Args[0]
		s, ok := scripts[name]
		if !ok {
			m.warnf(t.Line, "track_script "+name, path, "no vrrp_script %s in this file; left out", name)
			continue
		}
		s.used = true
		weight := s.weight
		if len(t.Args) >= 3 && t.Args[1] == "weight" {
			if w, err := strconv.Atoi(t.Args[2]); err == nil && w >= -253 && w <= 253 {
				weight = w
			}
		}
		isProxyCheck := strings.Contains(s.script, "haproxy") || strings.Contains(name, "haproxy")
		if !isProxyCheck {
			m.warnf(t.Line, "track_script "+name, path, "lbd runs no track scripts (script %q); it tracks its own frontends, backends and interfaces: add them under track; left out", s.script)
			continue
		}
		if len(m.trackable) == 0 {
			m.warnf(t.Line, "track_script "+name, path, "checks HAProxy, but no haproxy.cfg frontends were imported to track: add track.frontends; left out")
			continue
		}
		lw := weight
		how := "a failure puts the instance in FAULT (weight 0, keepalived's default)"
		switch {
		case weight > 0:
			lw = -weight
			how = fmt.Sprintf("script weight +%d (added while the check passes) becomes %d (subtracted while a frontend fails): the same difference between the nodes", weight, lw)
		case weight < 0:
			how = fmt.Sprintf("weight %d is subtracted while a frontend fails", weight)
		}
		for _, fe := range m.trackable {
			in.Track.Frontends = append(in.Track.Frontends, config.TrackItem{Name: fe, Weight: lw})
		}
		m.head[path+".frontends"] = append(m.head[path+".frontends"], s.head...)
		m.head[path+".frontends"] = append(m.head[path+".frontends"], c.Head...)
		m.head[path+".frontends"] = append(m.head[path+".frontends"], t.Head...)
		m.note(t.Line, "track_script "+name, path+".frontends", "vrrp_script %q replaced by lbd's built-in tracking of its own frontends: the proxy runs inside lbd, so no script is needed to see whether it is alive and listening; %s", s.script, how)
	}
}
