package stats

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/internal/control"
)

type pageOptions struct {
	hideVersion bool
	refresh     int
	upOnly      bool
	csvURL      string
}

type page struct {
	Node, Version string
	PID           int
	Now, Uptime   string
	Refresh       int
	ConfigFile    string
	ConfigLoaded  string
	Reload        *reloadView
	VRRP          []vrrpView
	Proxies       []proxyView
	CSVURL        string
	Summary       string
	DownCount     int
	UpOnly        bool
}

type reloadView struct {
	OK         bool
	At, Source string
	Error      string
}

type vrrpView struct {
	Name, Class, State, Interface string
	VRID, Priority, Base          int
	VIPs                          string
	Held                          bool
	Master, LastChange, Reason    string
	Transitions                   uint64
	HandedOver                    bool
}

type proxyView struct {
	Name, Mode, Balance string
	Rows                []rowView
	// TLS summarises the frontend's TLS handshakes; empty without a TLS bind.
	TLS string
	// ServerTLS summarises the handshakes with the backend's TLS servers;
	// empty without one.
	ServerTLS string
}

type rowView struct {
	Kind                     string // frontend, backend, server
	Class                    string // CSS class
	Name, Title              string
	Status, Check, CheckNote string
	Weight                   string
	Cur, Max, Limit, Total   string
	QCur, QMax               string
	Rate                     string
	In, Out                  string
	InExact, OutExact        string
	EReq, EConn, EResp       string
	Retr, Redis              string
	R2, R3, R4, R5           string
	LastChange, Downtime     string
}

func buildPage(st *control.Status, now time.Time, o pageOptions) *page {
	p := &page{
		Node:       st.Node,
		PID:        st.PID,
		Now:        now.Format("2006-01-02 15:04:05 MST"),
		Refresh:    o.refresh,
		ConfigFile: st.ConfigFile,
		CSVURL:     o.csvURL,
		UpOnly:     o.upOnly,
	}
	if !o.hideVersion {
		p.Version = st.Version
	}
	if !st.StartedAt.IsZero() {
		p.Uptime = human(now.Sub(st.StartedAt))
	} else if st.UptimeSec > 0 {
		p.Uptime = human(time.Duration(st.UptimeSec * float64(time.Second)))
	}
	if !st.ConfigLoad.IsZero() {
		p.ConfigLoaded = ago(now, st.ConfigLoad)
	}
	if r := st.LastReload; r != nil {
		p.Reload = &reloadView{OK: r.OK, At: ago(now, r.At), Source: r.Source, Error: r.Error}
	}
	for _, v := range st.VRRP {
		vv := vrrpView{
			Name: v.Name, State: strings.ToUpper(v.State), Interface: v.Interface, VRID: v.VRID,
			Priority: v.EffectivePriority, Base: v.BasePriority, VIPs: strings.Join(v.VIPs, ", "),
			Held: v.VIPsHeld, Master: v.MasterIP, Reason: v.LastReason, Transitions: v.Transitions,
			HandedOver: v.HandedOver,
		}
		vv.Class = "vrrp-" + strings.ToLower(vv.State)
		if !v.LastTransition.IsZero() {
			vv.LastChange = ago(now, v.LastTransition)
		}
		p.VRRP = append(p.VRRP, vv)
	}
	servers, down := 0, 0
	for _, px := range proxies(st) {
		pv := proxyView{Name: px.name}
		if f := px.fe; f != nil {
			pv.Mode = f.Mode
			status := "OPEN"
			if !f.Serving {
				status = "STOP"
			}
			r := rowView{
				Kind: "frontend", Class: "frontend", Name: "Frontend", Title: strings.Join(f.Binds, " "),
				Status: status, Cur: i64(f.Sessions), Max: i64(f.MaxSession), Limit: limit(f.Limit),
				Total: u(f.Total), Rate: strconv.FormatFloat(f.ReqRate, 'f', 1, 64),
				EReq: u(f.ErrorsReq + f.DeniedReq),
			}
			setBytes(&r, f.BytesIn, f.BytesOut)
			setCodes(&r, f.Responses)
			pv.TLS = tlsSummary(f)
			pv.Rows = append(pv.Rows, r)
		}
		if be := px.be; be != nil {
			pv.Mode, pv.Balance = be.Mode, be.Balance
			var last time.Time
			for _, s := range be.Servers {
				servers++
				cls := stateClass(s.State)
				if cls == "down" {
					down++
				}
				if s.LastChange.After(last) {
					last = s.LastChange
				}
				if o.upOnly && cls != "up" {
					continue
				}
				name := s.Name
				if s.Backup {
					name += " (backup)"
				}
				r := rowView{
					Kind: "server", Class: "server " + cls, Name: name, Title: s.Address,
					Status: ServerStatusText(s), Check: checkText(s.Check), CheckNote: s.Check.Reason,
					Weight: strconv.Itoa(s.Weight),
					Cur:    i64(s.Sessions), Max: i64(s.MaxSession), Limit: limit(s.Limit), Total: u(s.Total),
					QCur: i64(s.Queue), QMax: i64(s.MaxQueue), Rate: "",
					EConn: u(s.ErrorsConn), EResp: u(s.ErrorsResp), Retr: u(s.Retries), Redis: u(s.Redispatch),
					Downtime: human(time.Duration(s.DowntimeSec * float64(time.Second))),
				}
				if s.Check.Enabled && s.Check.Result != "" && !checkOK(s.Check.Result) {
					r.Class += " checkfail"
				}
				if !s.LastChange.IsZero() {
					r.LastChange = human(now.Sub(s.LastChange))
				}
				setBytes(&r, s.BytesIn, s.BytesOut)
				setCodes(&r, s.Responses)
				pv.Rows = append(pv.Rows, r)
			}
			pv.ServerTLS = serverTLSSummary(be)
			status := "UP"
			if !be.Usable {
				status = "DOWN"
			}
			r := rowView{
				Kind: "backend", Class: "backend", Name: "Backend", Status: status,
				Cur: i64(be.Sessions), Max: i64(be.MaxSession), Limit: "", Total: u(be.Total),
				QCur: i64(be.Queue), QMax: i64(be.MaxQueue),
				EConn: u(be.ErrorsConn), EResp: u(be.ErrorsResp), Retr: u(be.Retries), Redis: u(be.Redispatch),
			}
			if !be.Usable {
				r.Class += " down"
			}
			if !last.IsZero() {
				r.LastChange = human(now.Sub(last))
			}
			setBytes(&r, be.BytesIn, be.BytesOut)
			setCodes(&r, be.Responses)
			pv.Rows = append(pv.Rows, r)
		}
		p.Proxies = append(p.Proxies, pv)
	}
	p.DownCount = down
	p.Summary = fmt.Sprintf("%d proxies, %d servers, %d down", len(p.Proxies), servers, down)
	return p
}

func limit(v int64) string {
	if v <= 0 {
		return "-"
	}
	return i64(v)
}

func setBytes(r *rowView, in, out uint64) {
	r.In, r.Out = humanBytes(in), humanBytes(out)
	r.InExact, r.OutExact = u(in)+" bytes", u(out)+" bytes"
}

func setCodes(r *rowView, m map[string]uint64) {
	r.R2, r.R3, r.R4, r.R5 = u(m["2xx"]), u(m["3xx"]), u(m["4xx"]), u(m["5xx"])
}

func humanBytes(v uint64) string {
	const unit = 1024
	if v < unit {
		return u(v) + " B"
	}
	f := float64(v)
	for _, suffix := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= unit
		if f < unit {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + suffix
		}
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " EiB"
}

// human formats a duration as HAProxy's stats page does: "3d4h", "2h5m",
// "4m12s", "9s".
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

func ago(now, t time.Time) string { return human(now.Sub(t)) + " ago" }

func renderHTML(w io.Writer, p *page) error {
	return pageTmpl.Execute(w, p)
}

var pageTmpl = template.Must(template.New("stats").Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>{{if .Node}}{{.Node}} · {{end}}lbd statistics</title>
<style>
:root{--up:#1b7f3b;--up-bg:#dff3e4;--down:#b3261e;--down-bg:#f9d6d3;--drain:#9a6700;--drain-bg:#fff0c2;--maint:#5f6368;--maint-bg:#e6e6e6;--line:#d0d7de;--head:#24292f}
*{box-sizing:border-box}
body{margin:0;font:12px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa}
header{background:var(--head);color:#fff;padding:10px 18px;display:flex;flex-wrap:wrap;gap:6px 22px;align-items:baseline}
header h1{font-size:18px;margin:0 12px 0 0}
header span{opacity:.85}
header a{color:#9ecbff}
main{padding:12px 14px}
.summary{font-weight:600;margin:0 0 10px}
.summary.bad{color:var(--down)}
.vrrp{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:16px}
.card{background:#fff;border:1px solid var(--line);border-left:6px solid var(--maint);border-radius:6px;padding:8px 12px;min-width:280px}
.card.vrrp-master{border-left-color:var(--up)}.card.vrrp-backup{border-left-color:#0969da}.card.vrrp-fault{border-left-color:var(--down)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700;color:#fff;background:var(--maint);font-size:12px}
.vrrp-master .badge{background:var(--up)}.vrrp-backup .badge{background:#0969da}.vrrp-fault .badge{background:var(--down)}
.card dl{display:grid;grid-template-columns:auto 1fr;gap:0 10px;margin:6px 0 0}
.card dt{color:#57606a}.card dd{margin:0}
section.px{background:#fff;border:1px solid var(--line);border-radius:6px;margin-bottom:14px;overflow-x:auto}
section.px h2{font-size:14px;margin:0;padding:7px 10px;background:#eaeef2;border-bottom:1px solid var(--line)}
section.px h2 small{font-weight:400;color:#57606a;margin-left:8px}
table{border-collapse:collapse;width:100%;white-space:nowrap}
th,td{padding:3px 4px;border-bottom:1px solid #eaeef2;text-align:right}
th{background:#f6f8fa;font-weight:600;color:#57606a;font-size:11px}
th.grp{text-align:center;border-left:1px solid var(--line)}
td.l,th.l{text-align:left}
td.g{border-left:1px solid #eaeef2}
tr.frontend td,tr.backend td{background:#f3f6f9;font-weight:600}
tr.server.up td{background:var(--up-bg)}
tr.server.down td{background:var(--down-bg)}
tr.server.drain td{background:var(--drain-bg)}
tr.server.maint td{background:var(--maint-bg);color:#444}
tr.backend.down td{background:var(--down-bg)}
td.st{font-weight:700;text-align:left}
tr.up td.st{color:var(--up)}tr.down td.st{color:var(--down)}tr.drain td.st{color:var(--drain)}tr.maint td.st{color:var(--maint)}
tr.checkfail td.ck{color:var(--down);font-weight:600}
footer{color:#57606a;padding:0 18px 18px;font-size:12px}
.legend span{display:inline-block;padding:0 8px;margin-right:6px;border-radius:3px}
</style></head>
<body>
<header><h1>lbd statistics</h1>
{{if .Node}}<span>node <b>{{.Node}}</b></span>{{end}}
{{if .Version}}<span>version {{.Version}}</span>{{end}}
<span>pid {{.PID}}</span>
{{if .Uptime}}<span>up {{.Uptime}}</span>{{end}}
{{if .ConfigLoaded}}<span>config loaded {{.ConfigLoaded}}</span>{{end}}
{{with .Reload}}<span>last reload {{.At}} ({{.Source}}): {{if .OK}}accepted{{else}}<b>rejected</b>: {{.Error}}{{end}}</span>{{end}}
<span><a href="{{.CSVURL}}">CSV export</a></span>
<span>{{.Now}}</span>
</header>
<main>
<p class="summary{{if .DownCount}} bad{{end}}" id="summary">{{.Summary}}</p>
<div class="vrrp" id="vrrp">
{{range .VRRP}}<div class="card {{.Class}}" data-instance="{{.Name}}">
<b>{{.Name}}</b> <span class="badge">{{.State}}</span>{{if .HandedOver}} <span class="badge">HANDED OVER</span>{{end}}
<dl><dt>VRID</dt><dd>{{.VRID}} on {{.Interface}}</dd>
<dt>priority</dt><dd>{{.Priority}} (base {{.Base}})</dd>
<dt>VIPs</dt><dd>{{.VIPs}} {{if .Held}}(held here){{else}}(not held){{end}}</dd>
{{if .Master}}<dt>master</dt><dd>{{.Master}}</dd>{{end}}
{{if .LastChange}}<dt>last change</dt><dd>{{.LastChange}}{{if .Reason}}: {{.Reason}}{{end}}</dd>{{end}}
<dt>transitions</dt><dd>{{.Transitions}}</dd></dl></div>
{{else}}<div class="card"><b>VRRP</b> not configured on this node</div>
{{end}}</div>
{{range .Proxies}}<section class="px" data-proxy="{{.Name}}">
<h2>{{.Name}}<small>{{.Mode}}{{if .Balance}} · {{.Balance}}{{end}}</small></h2>
{{if .TLS}}<p class="tls">{{.TLS}}</p>{{end}}
{{if .ServerTLS}}<p class="tls" data-tls="servers">{{.ServerTLS}}</p>{{end}}
<table>
<thead><tr><th class="l" rowspan="2">Name</th><th class="l" rowspan="2">Status</th><th class="l" rowspan="2">Check</th><th rowspan="2">Wght</th>
<th class="grp" colspan="4">Sessions</th><th class="grp" colspan="2">Queue</th><th class="grp">Rate</th><th class="grp" colspan="2">Bytes</th>
<th class="grp" colspan="3">Errors</th><th class="grp" colspan="2">Warnings</th><th class="grp" colspan="4">Responses</th><th class="grp" colspan="2">State</th></tr>
<tr><th class="g">Cur</th><th>Max</th><th>Limit</th><th>Total</th><th class="g">Cur</th><th>Max</th><th class="g">Req/s</th><th class="g">In</th><th>Out</th>
<th class="g">Req</th><th>Conn</th><th>Resp</th><th class="g">Retr</th><th>Redis</th><th class="g">2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th class="g">Last chg</th><th>Downtime</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="{{.Class}}" data-kind="{{.Kind}}" data-name="{{.Name}}">
<td class="l" title="{{.Title}}">{{.Name}}</td><td class="st">{{.Status}}</td><td class="l ck" title="{{.CheckNote}}">{{.Check}}</td><td>{{.Weight}}</td>
<td class="g">{{.Cur}}</td><td>{{.Max}}</td><td>{{.Limit}}</td><td>{{.Total}}</td><td class="g">{{.QCur}}</td><td>{{.QMax}}</td><td class="g">{{.Rate}}</td>
<td class="g" title="{{.InExact}}">{{.In}}</td><td title="{{.OutExact}}">{{.Out}}</td>
<td class="g">{{.EReq}}</td><td>{{.EConn}}</td><td>{{.EResp}}</td><td class="g">{{.Retr}}</td><td>{{.Redis}}</td>
<td class="g">{{.R2}}</td><td>{{.R3}}</td><td>{{.R4}}</td><td>{{.R5}}</td><td class="g">{{.LastChange}}</td><td>{{.Downtime}}</td></tr>
{{end}}</tbody></table></section>
{{end}}</main>
<footer><p class="legend"><span style="background:var(--up-bg)">UP</span><span style="background:var(--down-bg)">DOWN</span><span style="background:var(--drain-bg)">DRAIN: no new traffic, sessions finish</span><span style="background:var(--maint-bg)">MAINT: disabled by an operator</span>
{{if .UpOnly}} · showing UP servers only{{end}}</p></footer>
</body></html>
`

// tlsSummary is "TLS handshakes: N; failed: reason n, ..." for a frontend
// with a TLS bind, "" otherwise.
func tlsSummary(f *control.FrontendStatus) string {
	if f.TLSFailures == nil {
		return ""
	}
	return "TLS handshakes: " + u(f.TLSHandshakes) + "; failed: " + TLSFailures(f.TLSFailures)
}

// serverTLSSummary is "TLS to servers: NAME N handshakes, M failed; ..."
// for the backend's servers spoken to over TLS, "" when it has none.
func serverTLSSummary(be *control.BackendStatus) string {
	var parts []string
	for _, s := range be.Servers {
		if s.TLS {
			parts = append(parts, s.Name+" "+ServerTLSCounts(s))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "TLS to servers: " + strings.Join(parts, "; ")
}

// ServerTLSCounts is "N handshakes, M failed (reason n, ...)" for a TLS
// server; the reasons in certs.ServerReasons order, zero counts left out.
func ServerTLSCounts(s control.ServerStatus) string {
	out := u(s.TLSHandshakes) + " handshakes, " + u(s.TLSFailures) + " failed"
	var parts []string
	for _, r := range certs.ServerReasons {
		if n := s.TLSFailureReasons[string(r)]; n > 0 {
			parts = append(parts, string(r)+" "+u(n))
		}
	}
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	return out
}

// TLSFailures formats handshake failures by reason, in a stable order,
// leaving out zero counts: "timeout 2, other 1", or "none".
func TLSFailures(m map[string]uint64) string {
	var parts []string
	for _, r := range certs.Reasons {
		if n := m[string(r)]; n > 0 {
			parts = append(parts, string(r)+" "+u(n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
