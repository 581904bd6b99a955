package config

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/vrrp"
)

// checker collects problems with their file and line.
type checker struct {
	file  string
	idx   lineIndex
	probs []Problem
	warns []Problem
	// sslDef is global.ssl_default_bind, for the TLS binds.
	sslDef *SSLDefaultBind
	// cfg is the config being checked (set by validate; the TLS binds read tls.acme).
	cfg *Config
}

// warn records a problem that does not stop the config from loading.
func (c *checker) warn(path, format string, args ...any) {
	c.warns = append(c.warns, Problem{File: c.file, Line: c.idx.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) add(path, format string, args ...any) {
	c.probs = append(c.probs, Problem{File: c.file, Line: c.idx.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// zeroAllowed lists duration keys where 0 is meaningful.
var zeroAllowed = map[string]bool{"preempt_delay": true, "master_delay": true, "master_refresh": true}

// checkDurations walks the decoded (not yet defaulted) config and rejects
// durations written as zero or negative.
func (c *checker) checkDurations(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			c.checkDurations(v.Elem(), path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")
			name := tag[0]
			if name == "-" || !f.IsExported() {
				continue
			}
			p := path
			if name != "" { // squashed fields keep the parent's path
				if p != "" {
					p += "."
				}
				p += name
			}
			fv := v.Field(i)
			if f.Type == durationType {
				if d := time.Duration(fv.Int()); d <= 0 && c.idx.has(p) && !(d == 0 && zeroAllowed[name]) {
					c.add(p, "must be greater than 0 (got %v)", d)
				}
				continue
			}
			if f.Type.Kind() == reflect.Pointer && f.Type.Elem() == durationType {
				if !fv.IsNil() && time.Duration(fv.Elem().Int()) < 0 {
					c.add(p, "must not be negative")
				}
				continue
			}
			c.checkDurations(fv, p)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			c.checkDurations(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func (c *checker) checkName(path, kind, name string, seen map[string]string) {
	if name == "" {
		c.add(path+".name", "%s needs a name", kind)
		return
	}
	if !nameRe.MatchString(name) {
		c.add(path+".name", "%s name %q may only use letters, digits and _ . : - (at most 64)", kind, name)
	}
	if prev, dup := seen[name]; dup {
		c.add(path+".name", "duplicate %s name %q (first defined at %s)", kind, name, prev)
		return
	}
	seen[name] = path
}

// checkHostPort validates "host:port" where host may be "*" or empty.
func (c *checker) checkHostPort(path, s string, wildcardOK bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		c.add(path, "invalid address %q: want HOST:PORT (IPv6 as [addr]:port)", s)
		return
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		c.add(path, "port %q out of range 1..65535", port)
	}
	switch {
	case host == "*" || host == "":
		if !wildcardOK {
			c.add(path, "address %q needs a host", s)
		}
	default:
		if _, err := netip.ParseAddr(host); err != nil && !hostnameRe.MatchString(host) {
			c.add(path, "invalid host %q", host)
		}
	}
}

var hostnameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

var validCriteria = map[string]bool{
	"path": true, "path_beg": true, "path_end": true, "path_reg": true, "path_sub": true,
	"method": true, "src": true, "url": true, "url_beg": true,
	"ssl_fc": true, "ssl_fc_sni": true, "ssl_fc_protocol": true,
}

var schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

var hdrCriterionRe = regexp.MustCompile(`^(hdr|hdr_beg|hdr_end|hdr_sub|hdr_reg)\(([A-Za-z0-9-]+)\)$`)

var facilities = map[string]bool{"kern": true, "user": true, "mail": true, "daemon": true, "auth": true, "syslog": true, "lpr": true, "news": true,
	"uucp": true, "cron": true, "auth2": true, "ftp": true, "ntp": true, "audit": true, "alert": true, "cron2": true,
	"local0": true, "local1": true, "local2": true, "local3": true, "local4": true, "local5": true, "local6": true, "local7": true}
var levels = map[string]bool{"emerg": true, "alert": true, "crit": true, "err": true, "warning": true, "notice": true, "info": true, "debug": true}

func (c *checker) validate(cfg *Config) {
	c.cfg = cfg
	c.checkTablesAndUserlists(cfg)
	g := cfg.Global
	c.sslDef = g.SSLDefaultBind
	c.checkTLSGlobal(&g)
	if v := g.SSLServerVerify; v != "" && v != "none" && v != "required" {
		c.add("global.ssl_server_verify", "unknown verify %q (none, required)", v)
	}
	if g.Maxconn < 0 {
		c.add("global.maxconn", "must not be negative")
	}
	if g.Threads < 0 || g.Threads > 1024 {
		c.add("global.threads", "must be 0..1024")
	}
	if g.SpreadChecks < 0 || g.SpreadChecks > 50 {
		c.add("global.spread_checks", "must be 0..50 (percent)")
	}
	if !strings.HasPrefix(g.ControlSocket, "/") {
		c.add("global.control_socket", "must be an absolute path")
	}
	if ra := g.RuntimeAPI; ra != nil {
		switch ra.Level {
		case "", "user", "operator", "admin":
		default:
			c.add("global.runtime_api.level", "must be user, operator or admin")
		}
		if ra.Mode != "" {
			if m, err := strconv.ParseUint(ra.Mode, 8, 32); err != nil || m > 0o777 {
				c.add("global.runtime_api.mode", "must be an octal file mode such as 0660")
			}
		}
	}
	for i, l := range g.Log {
		p := fmt.Sprintf("global.log[%d]", i)
		switch {
		case l.Address == "stdout" || l.Address == "stderr":
		case strings.HasPrefix(l.Address, "unix://"):
			if !strings.HasPrefix(strings.TrimPrefix(l.Address, "unix://"), "/") {
				c.add(p+".address", "unix socket path must be absolute")
			}
		default:
			addr := l.Address
			if _, err := netip.ParseAddr(addr); err == nil {
				break
			}
			c.checkHostPort(p+".address", addr, false)
		}
		if !facilities[l.Facility] {
			c.add(p+".facility", "unknown syslog facility %q (local0..local7, daemon, ...)", l.Facility)
		}
		if !levels[l.Level] {
			c.add(p+".level", "unknown level %q (emerg alert crit err warning notice info debug)", l.Level)
		}
	}
	if cfg.Sysctl.FileMax < 0 || cfg.Sysctl.ConntrackMax < 0 {
		c.add("sysctl", "limits must not be negative")
	}

	backends := map[string]*Backend{}
	seenB := map[string]string{}
	for i := range cfg.Backends {
		b := &cfg.Backends[i]
		c.checkName(b.Source, "backend", b.Name, seenB)
		backends[b.Name] = b
		c.checkCommon(b.Source, b.Common)
		c.checkBackend(b)
	}
	seenF := map[string]string{}
	binds := map[string]string{}
	for i := range cfg.Frontends {
		f := &cfg.Frontends[i]
		c.checkName(f.Source, "frontend", f.Name, seenF)
		c.checkCommon(f.Source, f.Common)
		c.checkFrontend(f, backends, binds)
	}
	if cfg.Stats != nil {
		if len(cfg.Stats.Bind) == 0 {
			c.add("stats.bind", "a stats listener needs at least one bind address")
		}
		for j, b := range cfg.Stats.Bind {
			c.checkBind(fmt.Sprintf("stats.bind[%d]", j), b, binds)
		}
		c.checkStats("stats", &cfg.Stats.Stats)
	}
	if cfg.Metrics != nil {
		c.checkHostPort("metrics.bind", cfg.Metrics.Bind, true)
		c.checkBind("metrics.bind", cfg.Metrics.Bind, binds)
		if !strings.HasPrefix(cfg.Metrics.Path, "/") {
			c.add("metrics.path", "must start with /")
		}
	}
	c.checkVRRP(cfg, backends)
	c.checkPair(cfg)
	c.checkBGP(cfg)
	c.checkACME(cfg)
}

func (c *checker) checkCommon(path string, cm Common) {
	if cm.Mode != "http" && cm.Mode != "tcp" {
		c.add(path+".mode", "mode must be http or tcp, not %q", cm.Mode)
	}
	if cm.Log != "global" && cm.Log != "none" {
		c.add(path+".log", "log must be global or none, not %q", cm.Log)
	}
	if cm.Retries != nil && (*cm.Retries < 0 || *cm.Retries > 100) {
		c.add(path+".retries", "must be 0..100")
	}
	if cm.Maxconn < 0 {
		c.add(path+".maxconn", "must not be negative")
	}
	if ff := cm.Options.ForwardFor; ff != nil {
		for j, e := range ff.Except {
			if _, err := parseNet(e); err != nil {
				c.add(fmt.Sprintf("%s.options.forwardfor.except[%d]", path, j), "invalid network %q: want CIDR like 127.0.0.0/8", e)
			}
		}
	}
}

// parseNet accepts a CIDR or a bare address (as a /32 or /128).
func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseNet is parseNet for consumers (proxy ACLs, forwardfor except).
func ParseNet(s string) (netip.Prefix, error) { return parseNet(s) }

func (c *checker) checkBind(path, addr string, seen map[string]string) {
	if prev, dup := seen[addr]; dup {
		c.add(path, "address %q is already bound by %s", addr, prev)
		return
	}
	seen[addr] = path
}

func (c *checker) checkFrontend(f *Frontend, backends map[string]*Backend, binds map[string]string) {
	p := f.Source
	c.checkH2(f)
	if len(f.Bind) == 0 {
		c.add(p+".bind", "frontend %q has no bind address", f.Name)
	}
	for j, b := range f.Bind {
		bp := fmt.Sprintf("%s.bind[%d]", p, j)
		ap := bp
		if b.SSL != nil {
			ap = bp + ".address"
		}
		c.checkHostPort(ap, b.Address, true)
		c.checkBind(ap, b.Address, binds)
		if b.SSL != nil {
			if f.Mode == "tcp" {
				c.add(bp+".ssl", "TLS termination needs mode http (mode tcp with ssl is not supported yet)")
			}
			c.checkBindSSL(c.cfg, bp+".ssl", b.SSL, c.sslDef)
		}
	}
	acls := map[string]bool{}
	for j, a := range f.ACLs {
		ap := fmt.Sprintf("%s.acls[%d]", p, j)
		if !nameRe.MatchString(a.Name) {
			c.add(ap+".name", "invalid ACL name %q", a.Name)
		}
		acls[a.Name] = true
		crit := a.Criterion
		if !validCriteria[crit] && !hdrCriterionRe.MatchString(crit) && checkExtCriterion(crit, a.Values) != nil {
			c.add(ap+".criterion", "unknown criterion %q (path, path_beg, path_end, path_reg, hdr(NAME), hdr_beg(NAME), hdr_end(NAME), method, src)", crit)
		}
		if crit == "ssl_fc" {
			if len(a.Values) > 0 {
				c.add(ap+".values", "ssl_fc takes no values")
			}
		} else if len(a.Values) == 0 {
			c.add(ap+".values", "ACL %q has no values", a.Name)
		}
		for k, v := range a.Values {
			vp := fmt.Sprintf("%s.values[%d]", ap, k)
			switch {
			case crit == "src":
				if _, err := parseNet(v); err != nil {
					c.add(vp, "invalid network %q", v)
				}
			case strings.HasSuffix(strings.SplitN(crit, "(", 2)[0], "_reg"):
				if _, err := regexp.Compile(v); err != nil {
					c.add(vp, "invalid regular expression: %v", err)
				}
			}
		}
	}
	if f.Mode == "tcp" && len(f.ACLs) > 0 {
		for j, a := range f.ACLs {
			if a.Criterion != "src" && !stickCriterionRe.MatchString(a.Criterion) {
				c.add(fmt.Sprintf("%s.acls[%d].criterion", p, j), "criterion %q needs mode http", a.Criterion)
			}
		}
	}
	refBackend := func(path, name string) {
		b, ok := backends[name]
		if !ok {
			c.add(path, "backend %q does not exist", name)
			return
		}
		if b.Mode != f.Mode {
			c.add(path, "frontend %q is mode %s but backend %q is mode %s", f.Name, f.Mode, name, b.Mode)
		}
	}
	for j, u := range f.UseBackends {
		up := fmt.Sprintf("%s.use_backends[%d]", p, j)
		refBackend(up+".backend", u.Backend)
		switch {
		case u.If != "" && u.Unless != "":
			c.add(up, "use either if or unless, not both")
		case u.If == "" && u.Unless == "":
			c.add(up, "use_backend %q needs an if or unless condition (or use default_backend)", u.Backend)
		}
		cond := u.If + u.Unless
		key := ".if"
		if u.Unless != "" {
			key = ".unless"
		}
		if _, err := ParseCondition(cond, acls); err != nil && cond != "" {
			c.add(up+key, "%v", err)
		}
	}
	for j, r := range f.Redirects {
		rp := fmt.Sprintf("%s.redirects[%d]", p, j)
		if f.Mode == "tcp" {
			c.add(rp, "redirect needs mode http")
		}
		// The same checks as http_request's redirect (one implementation:
		// proxy compiles both as redirect rules).
		c.checkRedirect(rp, "", "", r.Scheme, r.Code, true)
		if r.If != "" && r.Unless != "" {
			c.add(rp, "use either if or unless, not both")
		}
		cond, key := r.If, ".if"
		if r.Unless != "" {
			cond, key = r.Unless, ".unless"
		}
		if cond != "" {
			if _, err := ParseCondition(cond, acls); err != nil {
				c.add(rp+key, "%v", err)
			}
		}
	}
	if f.DefaultBackend != "" {
		path := p + ".default_backend"
		if f.FromListen {
			path = p + ".name"
		}
		refBackend(path, f.DefaultBackend)
	}
	for j, e := range f.ErrorFiles {
		ep := fmt.Sprintf("%s.error_files[%d]", p, j)
		switch e.Code {
		case 400, 403, 408, 500, 502, 503, 504:
		default:
			c.add(ep+".code", "no error page for %d (400 403 408 500 502 503 504)", e.Code)
		}
		if e.File == "" {
			c.add(ep+".file", "needs a file")
		}
	}
	if f.Stats != nil {
		c.checkStats(p+".stats", f.Stats)
	}
	c.checkTraffic(f)
	c.checkFrontendRules(f, acls)
}

func (c *checker) checkStats(path string, s *Stats) {
	if !strings.HasPrefix(s.URI, "/") {
		c.add(path+".uri", "must start with /")
	}
	for j, a := range s.Auth {
		u, pw, ok := strings.Cut(a, ":")
		if !ok || u == "" || pw == "" {
			c.add(fmt.Sprintf("%s.auth[%d]", path, j), "want user:password")
		}
	}
}

var balances = map[string]bool{"roundrobin": true, "leastconn": true, "source": true, "first": true}

func (c *checker) checkBackend(b *Backend) {
	p := b.Source
	if !balances[b.Balance] {
		c.add(p+".balance", "unknown balance %q (roundrobin, leastconn, source, first)", b.Balance)
	}
	if ck := b.Cookie; ck != nil {
		if ck.Name == "" {
			c.add(p+".cookie.name", "cookie needs a name")
		}
		if ck.Mode != "insert" && ck.Mode != "rewrite" && ck.Mode != "prefix" {
			c.add(p+".cookie.mode", "cookie mode must be insert, rewrite or prefix")
		}
		if b.Mode == "tcp" {
			c.add(p+".cookie", "cookie persistence needs mode http")
		}
	}
	if hc := b.HealthCheck; hc != nil {
		c.checkHealthCheck(p+".health_check", hc)
	}
	seen := map[string]string{}
	cookies := map[string]string{}
	for j, s := range b.Servers {
		sp := fmt.Sprintf("%s.servers[%d]", p, j)
		c.checkName(sp, "server", s.Name, seen)
		if s.Address == "" {
			c.add(sp+".address", "server %q needs an address", s.Name)
		} else {
			c.checkHostPort(sp+".address", s.Address, false)
		}
		if s.Weight != nil && (*s.Weight < 0 || *s.Weight > 256) {
			c.add(sp+".weight", "must be 0..256")
		}
		if s.Rise < 1 || s.Fall < 1 {
			c.add(sp, "rise and fall must be at least 1")
		}
		if s.CheckPort < 0 || s.CheckPort > 65535 {
			c.add(sp+".check_port", "out of range 1..65535")
		}
		if s.CheckAddr != "" {
			if _, err := netip.ParseAddr(s.CheckAddr); err != nil {
				c.add(sp+".check_addr", "invalid address %q", s.CheckAddr)
			}
		}
		if s.Maxconn < 0 || s.Maxqueue < 0 {
			c.add(sp, "maxconn and maxqueue must not be negative")
		}
		if s.SendProxy != "" && s.SendProxy != "v1" && s.SendProxy != "v2" {
			c.add(sp+".send_proxy", "must be v1 or v2")
		}
		c.checkServerSSL(sp, b.Mode, &b.Servers[j])
		if s.OnMarkedDown != "" && s.OnMarkedDown != "shutdown-sessions" {
			c.add(sp+".on_marked_down", "only shutdown-sessions is supported")
		}
		if s.Cookie != "" {
			if prev, dup := cookies[s.Cookie]; dup && !s.Backup {
				c.add(sp+".cookie", "cookie value %q is also used by %s", s.Cookie, prev)
			}
			cookies[s.Cookie] = sp
		}
	}
}

func (c *checker) checkVRRP(cfg *Config, backends map[string]*Backend) {
	seen := map[string]string{}
	vrids := map[string]string{}
	for i := range cfg.VRRP.Instances {
		in := &cfg.VRRP.Instances[i]
		p := fmt.Sprintf("vrrp.instances[%d]", i)
		c.checkName(p, "VRRP instance", in.Name, seen)
		if in.Interface == "" {
			c.add(p+".interface", "needs an interface")
		}
		if in.VRID < 1 || in.VRID > 255 {
			c.add(p+".virtual_router_id", "must be 1..255")
		}
		if in.Priority < 1 || in.Priority > 255 {
			c.add(p+".priority", "must be 1..255")
		}
		if in.PreemptDelay > vrrp.MaxPreemptDelay {
			c.add(p+".preempt_delay", "must be 0s..1000s")
		}
		switch in.Version {
		case 3:
			if in.AdvertInterval < vrrp.MinIntervalV3 || in.AdvertInterval > vrrp.MaxIntervalV3 {
				c.add(p+".advert_interval", "VRRPv3 interval must be 10ms..40.95s")
			} else if in.AdvertInterval%(10*time.Millisecond) != 0 {
				c.add(p+".advert_interval", "VRRPv3 interval is in centiseconds: use a multiple of 10ms")
			}
			if in.AuthPass != "" {
				c.add(p+".auth_pass", "VRRPv3 has no authentication (RFC 5798); use version: 2 or remove auth_pass")
			}
		case 2:
			if in.AdvertInterval < vrrp.MinIntervalV2 || in.AdvertInterval > vrrp.MaxIntervalV2 || in.AdvertInterval%time.Second != 0 {
				c.add(p+".advert_interval", "VRRPv2 interval must be whole seconds 1s..255s")
			}
			if len(in.AuthPass) > vrrp.MaxAuthPass {
				c.add(p+".auth_pass", "at most %d bytes (keepalived truncates longer ones; lbd refuses)", vrrp.MaxAuthPass)
			}
		default:
			c.add(p+".version", "must be 2 or 3")
		}
		key := fmt.Sprintf("%s/%d", in.Interface, in.VRID)
		if prev, dup := vrids[key]; dup {
			c.add(p+".virtual_router_id", "VRID %d on %s is already used by %s", in.VRID, in.Interface, prev)
		}
		vrids[key] = p
		var fam int
		famPath := ""
		checkFam := func(path string, a netip.Addr) {
			f := 4
			if a.Is6() && !a.Is4In6() {
				f = 6
			}
			if fam == 0 {
				fam, famPath = f, path
				return
			}
			if f != fam {
				c.add(path, "address family IPv%d differs from IPv%d at %s: one instance carries one family", f, fam, famPath)
			}
		}
		switch {
		case len(in.VIPs) == 0:
			c.add(p+".vips", "instance %q has no VIPs", in.Name)
		case len(in.VIPs) > vrrp.MaxAddrs:
			c.add(p+".vips", "%d VIPs: an advert carries at most %d", len(in.VIPs), vrrp.MaxAddrs)
		}
		for j, v := range in.VIPs {
			vp := fmt.Sprintf("%s.vips[%d].address", p, j)
			a, err := ParseVIP(v.Address)
			if err != nil {
				c.add(vp, "invalid VIP %q: want an address with optional /prefix", v.Address)
				continue
			}
			checkFam(vp, a.Addr())
			if a.Addr().Is6() && in.Version == 2 {
				c.add(vp, "IPv6 VIPs need version: 3 (VRRPv2 is IPv4 only)")
			}
			if v.Label != "" && (len(v.Label) > 15 || a.Addr().Is6()) {
				c.add(fmt.Sprintf("%s.vips[%d].label", p, j), "labels are IPv4 only and at most 15 characters")
			}
		}
		if in.UnicastSrc != "" {
			a, err := netip.ParseAddr(in.UnicastSrc)
			if err != nil {
				c.add(p+".unicast_src", "invalid address %q", in.UnicastSrc)
			} else {
				checkFam(p+".unicast_src", a)
			}
		}
		for j, peer := range in.UnicastPeers {
			pp := fmt.Sprintf("%s.unicast_peers[%d]", p, j)
			a, err := netip.ParseAddr(peer)
			if err != nil {
				c.add(pp, "invalid address %q", peer)
				continue
			}
			checkFam(pp, a)
		}
		for j, t := range in.Track.Backends {
			tp := fmt.Sprintf("%s.track.backends[%d]", p, j)
			if _, ok := backends[t.Name]; !ok {
				c.add(tp+".name", "backend %q does not exist", t.Name)
			}
			c.checkWeight(tp+".weight", t.Weight)
		}
		for j, t := range in.Track.Frontends {
			tp := fmt.Sprintf("%s.track.frontends[%d]", p, j)
			if cfg.FrontendByName(t.Name) == nil {
				c.add(tp+".name", "frontend %q does not exist", t.Name)
			}
			c.checkWeight(tp+".weight", t.Weight)
		}
		for j, t := range in.Track.Interfaces {
			tp := fmt.Sprintf("%s.track.interfaces[%d]", p, j)
			if t.Name == "" {
				c.add(tp+".name", "needs an interface name")
			}
			c.checkWeight(tp+".weight", t.Weight)
		}
		if in.GARP.MasterRepeat < 1 || in.GARP.MasterRepeat > 100 {
			c.add(p+".garp.master_repeat", "must be 1..100")
		}
	}
}

// maxTrackWeight bounds a tracked object's weight, as keepalived's
// track_interface and track_script do.
const maxTrackWeight = 253

func (c *checker) checkWeight(path string, w int) {
	if w < -maxTrackWeight || w > maxTrackWeight {
		c.add(path, "must be -%d..%d (0 puts the instance in FAULT)", maxTrackWeight, maxTrackWeight)
	}
}
