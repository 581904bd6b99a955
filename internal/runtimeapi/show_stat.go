package runtimeapi

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/internal/stats"
)

// Columns of stats.CSVColumns that the filters read.
const (
	colPxname = 0
	colSvname = 1
	colStatus = 17
	colIid    = 27
	colSid    = 28
	colType   = 32
)

// statFilter is `show stat [{<iid>|<proxy>} <type> <sid>]`: iid -1 or
// proxy "" for all, type a bitmask (1 frontend, 2 backend, 4 server, -1
// all), sid -1 for all.
type statFilter struct {
	iid     int
	proxy   string
	typ     int
	sid     int
	typed   bool
	up      bool
	noMaint bool
}

// parseStatArgs reads the words after "show stat"; msg is the error answer.
func parseStatArgs(args []string) (f statFilter, msg string) {
	f = statFilter{iid: -1, typ: -1, sid: -1}
	var pos []string
	for _, a := range args {
		switch a {
		case "typed":
			f.typed = true
		case "up":
			f.up = true
		case "no-maint":
			f.noMaint = true
		case "desc", "json":
			return f, "lbd supports only the CSV and typed forms of show stat.\n"
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return f, ""
	}
	if len(pos) < 3 {
		return f, "" // as HAProxy: an incomplete filter selects everything
	}
	if n, err := strconv.Atoi(pos[0]); err == nil {
		f.iid = n
	} else {
		f.proxy = pos[0]
	}
	// Non-numbers read as 0, as HAProxy's atol does.
	f.typ, _ = strconv.Atoi(pos[1])
	f.sid, _ = strconv.Atoi(pos[2])
	return f, ""
}

func (f statFilter) keep(rec []string) bool {
	if len(rec) <= colType {
		return false
	}
	if f.proxy != "" && rec[colPxname] != f.proxy {
		return false
	}
	if f.iid != -1 && rec[colIid] != strconv.Itoa(f.iid) {
		return false
	}
	t, _ := strconv.Atoi(rec[colType])
	if f.typ != -1 && f.typ&(1<<t) == 0 {
		return false
	}
	if t == 2 {
		if f.sid != -1 && rec[colSid] != strconv.Itoa(f.sid) {
			return false
		}
		if f.noMaint && strings.HasPrefix(rec[colStatus], "MAINT") {
			return false
		}
	}
	return true
}

// cmdShowStat renders the stats page's CSV (stats.WriteCSV, the same rows
// and columns) and keeps the rows the filter selects; `typed` prints one
// field per line instead.
func cmdShowStat(s *session, args []string) string {
	f, msg := parseStatArgs(args[2:])
	if msg != "" {
		return msg
	}
	if f.proxy != "" && !hasProxy(s, f.proxy) {
		return "No such proxy.\n"
	}
	st := s.b.Status()
	var all bytes.Buffer
	if err := stats.WriteCSV(&all, &st, s.now(), f.up); err != nil {
		return "Internal error.\n"
	}
	header, body, _ := bytes.Cut(all.Bytes(), []byte("\n"))
	var out strings.Builder
	if !f.typed {
		out.Write(header)
		out.WriteByte('\n')
	}
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := csv.NewReader(bytes.NewReader(line)).Read()
		if err != nil || !f.keep(rec) {
			continue
		}
		if f.typed {
			writeTyped(&out, rec)
		} else {
			out.Write(line)
		}
	}
	return out.String()
}

func hasProxy(s *session, name string) bool {
	st := s.b.Status()
	for _, f := range st.Frontends {
		if f.Name == name {
			return true
		}
	}
	for _, b := range st.Backends {
		if b.Name == name {
			return true
		}
	}
	return false
}

// fieldTags are each column's typed-output tags (origin, nature, scope)
// and value type, by column position.
var fieldTags = [...]struct{ tags, typ string }{
	{"KNS", "str"}, {"KNS", "str"}, {"MGP", "u32"}, {"MMP", "u32"}, {"MGP", "u32"}, // 0-4
	{"MMP", "u32"}, {"CLP", "u32"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, // 5-9
	{"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, // 10-14
	{"MCP", "u64"}, {"MCP", "u64"}, {"SGP", "str"}, {"MaP", "u32"}, {"SGP", "u32"}, // 15-19
	{"SGP", "u32"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MAP", "u32"}, {"MCP", "u32"}, // 20-24
	{"CLP", "u32"}, {"KGP", "u32"}, {"KGS", "u32"}, {"KGS", "u32"}, {"MaP", "u32"}, // 25-29
	{"MCP", "u64"}, {"CGS", "str"}, {"CGS", "u32"}, {"MRP", "u32"}, {"CLP", "u32"}, // 30-34
	{"MMP", "u32"}, {"MGP", "str"}, {"MGP", "u32"}, {"MDP", "u64"}, {"MCP", "u64"}, // 35-39
	{"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, // 40-44
	{"MCP", "u64"}, {"MRP", "u32"}, {"MMP", "u32"}, {"MCP", "u64"}, {"MCP", "u64"}, // 45-49
	{"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, {"MCP", "u64"}, // 50-54
	{"MAP", "s32"}, {"MGP", "str"}, {"MGP", "str"}, {"MaP", "u32"}, {"MaP", "u32"}, // 55-59
	{"MaP", "u32"}, {"MaP", "u32"}, {"MGP", "str"}, {"MGP", "u32"}, {"MDP", "u64"}, // 60-64
	{"MGP", "str"}, {"MGP", "str"}, {"MaP", "u32"}, {"MaP", "u32"}, {"SGP", "u32"}, // 65-69
	{"MaP", "u32"}, {"MaP", "u32"}, {"SGP", "u32"}, {"CGS", "str"}, {"CGS", "str"}, // 70-74
	{"CGS", "str"}, {"CGS", "str"}, // 75-76
}

// writeTyped prints one row as "T.iid.sid.pos.name.1:tags:type:value"
// lines, non-empty fields only.
func writeTyped(out *strings.Builder, rec []string) {
	kind := "F"
	switch rec[colType] {
	case "1":
		kind = "B"
	case "2":
		kind = "S"
	}
	prefix := kind + "." + rec[colIid] + "." + rec[colSid] + "."
	for i, v := range rec {
		if v == "" || i >= len(stats.CSVColumns) || i >= len(fieldTags) {
			continue
		}
		ft := fieldTags[i]
		typ := ft.typ
		if typ != "str" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				typ = "str"
			}
		}
		out.WriteString(prefix)
		out.WriteString(strconv.Itoa(i))
		out.WriteByte('.')
		out.WriteString(stats.CSVColumns[i])
		out.WriteString(".1:")
		out.WriteString(ft.tags)
		out.WriteByte(':')
		out.WriteString(typ)
		out.WriteByte(':')
		out.WriteString(v)
		out.WriteByte('\n')
	}
}
