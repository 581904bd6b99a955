package stats

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// CSVColumns are the `show stat` columns lbd emits, in HAProxy's order
// (0 pxname .. 76 algo). Tools index them by position; never reorder.
var CSVColumns = []string{
	"pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout",
	"dreq", "dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "weight", "act",
	"bck", "chkfail", "chkdown", "lastchg", "downtime", "qlimit", "pid", "iid", "sid", "throttle",
	"lbtot", "tracked", "type", "rate", "rate_lim", "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx",
	"hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt",
	"srv_abrt", "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime",
	"rtime", "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise", "check_fall", "check_health",
	"agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo",
}

// Column positions used below.
const (
	cPxname = iota
	cSvname
	cQcur
	cQmax
	cScur
	cSmax
	cSlim
	cStot
	cBin
	cBout
	cDreq
	cDresp
	cEreq
	cEcon
	cEresp
	cWretr
	cWredis
	cStatus
	cWeight
	cAct
	cBck
	cChkfail
	cChkdown
	cLastchg
	cDowntime
	cQlimit
	cPid
	cIid
	cSid
	cThrottle
	cLbtot
	cTracked
	cType
	cRate
	cRateLim
	cRateMax
	cCheckStatus
	cCheckCode
	cCheckDuration
	cHrsp1xx
	cHrsp2xx
	cHrsp3xx
	cHrsp4xx
	cHrsp5xx
	cHrspOther
	cHanafail
	cReqRate
	cReqRateMax
	cReqTot
	cCliAbrt
	cSrvAbrt
	cCompIn
	cCompOut
	cCompByp
	cCompRsp
	cLastsess
	cLastChk
	cLastAgt
	cQtime
	cCtime
	cRtime
	cTtime
	cAgentStatus
	cAgentCode
	cAgentDuration
	cCheckDesc
	cAgentDesc
	cCheckRise
	cCheckFall
	cCheckHealth
	cAgentRise
	cAgentFall
	cAgentHealth
	cAddr
	cCookie
	cMode
	cAlgo
	numCols
)

// Row types in the `type` column.
const (
	typeFrontend = "0"
	typeBackend  = "1"
	typeServer   = "2"
)

// proxy pairs the frontend and backend halves sharing a name (a listen
// section) so they get one iid, as in HAProxy.
type proxy struct {
	name string
	fe   *control.FrontendStatus
	be   *control.BackendStatus
}

// proxies lists frontends in order, then backends not already paired.
func proxies(st *control.Status) []proxy {
	var out []proxy
	idx := map[string]int{}
	for i := range st.Frontends {
		f := &st.Frontends[i]
		if _, dup := idx[f.Name]; dup {
			continue
		}
		idx[f.Name] = len(out)
		out = append(out, proxy{name: f.Name, fe: f})
	}
	for i := range st.Backends {
		b := &st.Backends[i]
		if j, ok := idx[b.Name]; ok {
			if out[j].be == nil {
				out[j].be = b
			}
			continue
		}
		idx[b.Name] = len(out)
		out = append(out, proxy{name: b.Name, be: b})
	}
	return out
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }
func i64(v int64) string {
	return strconv.FormatInt(v, 10)
}

func secondsSince(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}

// WriteCSV writes st as HAProxy's `show stat` CSV: a "# " header line with
// the column names, then per proxy a FRONTEND row, one row per server and a
// BACKEND row. Every line ends with a comma, as HAProxy's do. When upOnly is
// set, servers that are not UP are left out (HAProxy's ";up").
func WriteCSV(w io.Writer, st *control.Status, now time.Time, upOnly bool) error {
	var b strings.Builder
	b.WriteString("# ")
	for _, c := range CSVColumns {
		b.WriteString(c)
		b.WriteByte(',')
	}
	b.WriteByte('\n')
	pid := strconv.Itoa(st.PID)
	var row [numCols]string
	emit := func() {
		for i := range row {
			writeCSVField(&b, row[i])
			b.WriteByte(',')
			row[i] = ""
		}
		b.WriteByte('\n')
	}
	for n, px := range proxies(st) {
		iid := strconv.Itoa(n + 1)
		if f := px.fe; f != nil {
			row[cPxname], row[cSvname] = f.Name, "FRONTEND"
			row[cScur], row[cSmax], row[cSlim], row[cStot] = i64(f.Sessions), i64(f.MaxSession), i64(f.Limit), u(f.Total)
			row[cBin], row[cBout], row[cDreq], row[cDresp], row[cEreq] = u(f.BytesIn), u(f.BytesOut), u(f.DeniedReq), "0", u(f.ErrorsReq)
			row[cStatus] = "OPEN"
			if !f.Serving {
				row[cStatus] = "STOP"
			}
			row[cPid], row[cIid], row[cSid], row[cType] = pid, iid, "0", typeFrontend
			rate := strconv.FormatFloat(f.ReqRate, 'f', 0, 64)
			row[cRate], row[cRateLim], row[cRateMax] = rate, "0", ""
			setResponses(&row, f.Responses)
			row[cReqRate], row[cReqTot] = rate, u(f.Requests)
			row[cMode] = f.Mode
			emit()
		}
		be := px.be
		if be == nil {
			continue
		}
		act, bck, weight := 0, 0, 0
		var lastChange time.Time
		var downtime float64
		for sid, s := range be.Servers {
			state := stateClass(s.State)
			if state == "up" {
				weight += s.Weight
				if s.Backup {
					bck++
				} else {
					act++
				}
			}
			if s.LastChange.After(lastChange) {
				lastChange = s.LastChange
			}
			downtime += s.DowntimeSec
			if upOnly && state != "up" {
				continue
			}
			row[cPxname], row[cSvname] = be.Name, s.Name
			row[cQcur], row[cQmax] = i64(s.Queue), i64(s.MaxQueue)
			row[cScur], row[cSmax], row[cStot] = i64(s.Sessions), i64(s.MaxSession), u(s.Total)
			if s.Limit > 0 {
				row[cSlim] = i64(s.Limit)
			}
			row[cBin], row[cBout], row[cDresp] = u(s.BytesIn), u(s.BytesOut), "0"
			row[cEcon], row[cEresp], row[cWretr], row[cWredis] = u(s.ErrorsConn), u(s.ErrorsResp), u(s.Retries), u(s.Redispatch)
			row[cStatus], row[cWeight] = ServerStatusText(s), strconv.Itoa(s.Weight)
			if s.Backup {
				row[cAct], row[cBck] = "0", "1"
			} else {
				row[cAct], row[cBck] = "1", "0"
			}
			if s.Check.Enabled {
				row[cCheckStatus] = s.Check.Result
				if s.Check.Code != 0 {
					row[cCheckCode] = strconv.Itoa(s.Check.Code)
				}
				row[cCheckDuration] = i64(s.Check.Duration.Milliseconds())
				row[cCheckDesc] = s.Check.Reason
				row[cCheckRise], row[cCheckFall], row[cCheckHealth] = strconv.Itoa(s.Check.Rise), strconv.Itoa(s.Check.Fall), strconv.Itoa(s.Check.Health)
				row[cLastChk] = s.Check.Reason
			}
			row[cLastchg] = secondsSince(now, s.LastChange)
			row[cDowntime] = strconv.FormatInt(int64(s.DowntimeSec), 10)
			row[cPid], row[cIid], row[cSid], row[cType] = pid, iid, strconv.Itoa(sid+1), typeServer
			row[cLbtot] = u(s.Total)
			row[cRate] = ""
			setResponses(&row, s.Responses)
			row[cAddr], row[cMode] = s.Address, be.Mode
			emit()
		}
		row[cPxname], row[cSvname] = be.Name, "BACKEND"
		row[cQcur], row[cQmax] = i64(be.Queue), i64(be.MaxQueue)
		row[cScur], row[cSmax], row[cStot] = i64(be.Sessions), i64(be.MaxSession), u(be.Total)
		row[cBin], row[cBout], row[cDreq], row[cDresp] = u(be.BytesIn), u(be.BytesOut), "0", "0"
		row[cEcon], row[cEresp], row[cWretr], row[cWredis] = u(be.ErrorsConn), u(be.ErrorsResp), u(be.Retries), u(be.Redispatch)
		row[cStatus] = "UP"
		if !be.Usable {
			row[cStatus] = "DOWN"
		}
		row[cWeight], row[cAct], row[cBck] = strconv.Itoa(weight), strconv.Itoa(act), strconv.Itoa(bck)
		row[cLastchg] = secondsSince(now, lastChange)
		row[cDowntime] = strconv.FormatInt(int64(downtime), 10)
		row[cPid], row[cIid], row[cSid], row[cType] = pid, iid, "0", typeBackend
		row[cLbtot] = u(be.Total)
		setResponses(&row, be.Responses)
		row[cMode], row[cAlgo] = be.Mode, be.Balance
		emit()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func setResponses(row *[numCols]string, r map[string]uint64) {
	row[cHrsp1xx], row[cHrsp2xx], row[cHrsp3xx] = u(r["1xx"]), u(r["2xx"]), u(r["3xx"])
	row[cHrsp4xx], row[cHrsp5xx], row[cHrspOther] = u(r["4xx"]), u(r["5xx"]), u(r["other"])
}

// csvClean replaces control characters (line breaks included) by '_' so
// every row stays on one line for line-oriented tools.
func csvClean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// writeCSVField writes s without control characters, quoted RFC 4180 style
// only when it holds a comma or quote (HAProxy's own names never do).
func writeCSVField(b *strings.Builder, s string) {
	s = csvClean(s)
	if !strings.ContainsAny(s, ",\"") {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}
