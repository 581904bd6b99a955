package runtimeapi

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/stats"
)

const serversStateHeader = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"

// proxyIDs returns the iid of each backend as show stat numbers them.
func proxyIDs(st *control.Status, now time.Time) map[string]string {
	var buf bytes.Buffer
	_ = stats.WriteCSV(&buf, st, now, false)
	ids := map[string]string{}
	r := csv.NewReader(&buf)
	r.Comment = '#'
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		if len(rec) > colType && rec[colSvname] == "BACKEND" {
			ids[rec[colPxname]] = rec[colIid]
		}
	}
	return ids
}

// cmdShowServersState prints the version-1 server state dump (the format
// of HAProxy's server-state-file), one line per server.
func cmdShowServersState(s *session, args []string) string {
	st := s.b.Status()
	want := ""
	if len(args) > 3 {
		want = args[3]
		found := false
		for _, b := range st.Backends {
			found = found || b.Name == want
		}
		if !found {
			return "Can't find backend.\n"
		}
	}
	now := s.now()
	ids := proxyIDs(&st, now)
	var b strings.Builder
	b.WriteString(serversStateHeader)
	for _, be := range st.Backends {
		if want != "" && be.Name != want {
			continue
		}
		for i, sv := range be.Servers {
			host, port, err := net.SplitHostPort(sv.Address)
			if err != nil {
				host, port = sv.Address, "0"
			}
			iw, _ := s.b.InitialWeight(be.Name, sv.Name)
			since := int64(0)
			if !sv.LastChange.IsZero() {
				since = max(int64(now.Sub(sv.LastChange)/time.Second), 0)
			}
			checkState := 0
			if sv.Check.Enabled {
				checkState = 6 // configured | enabled
			}
			fmt.Fprintf(&b, "%s %s %d %s %s %d %d %d %d %d %d %d %d %d 0 0 0 - %s - 0 0 - - 0\n",
				ids[be.Name], oneLine(be.Name), i+1, oneLine(sv.Name), oneLine(host),
				opState(sv.State), adminState(sv.State), sv.Weight, iw, since,
				checkStatusCode(sv.Check), checkResult(sv.Check), sv.Check.Health, checkState, oneLine(port))
		}
	}
	return b.String()
}

// opState: 0 stopped, 2 running (HAProxy's SRV_ST_*).
func opState(state string) int {
	switch state {
	case "UP", "DRAIN":
		return 2
	}
	return 0
}

// adminState is HAProxy's admin bit field: 0x01 forced maintenance, 0x08
// forced drain.
func adminState(state string) int {
	switch state {
	case "MAINT":
		return 1
	case "DRAIN":
		return 8
	}
	return 0
}

// checkStatusCode numbers a check result as HAProxy's HCHK_STATUS_*.
func checkStatusCode(c control.CheckStatus) int {
	if !c.Enabled {
		return 1
	}
	codes := map[string]int{"": 1, "INI": 1, "SOCKERR": 4, "L4OK": 5, "L4TOUT": 6, "L4CON": 7,
		"L6OK": 8, "L6TOUT": 9, "L6RSP": 10, "L7TOUT": 11, "L7RSP": 12, "L7OK": 13, "L7OKC": 14, "L7STS": 15}
	return codes[c.Result]
}

// checkResult is HAProxy's CHK_RES_*: 0 unknown, 2 failed, 3 passed.
func checkResult(c control.CheckStatus) int {
	switch {
	case !c.Enabled || c.Result == "":
		return 0
	case strings.Contains(c.Result, "OK"):
		return 3
	}
	return 2
}
