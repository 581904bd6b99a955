package importer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// statsSocketOptions maps the options of `stats socket <path> [opts]` to
// global.runtime_api (mode, user, uid, group, gid, level) and returns the
// rest of the note: what was mapped and what was left out.
func (m *mapper) statsSocketOptions(opts []string) string {
	ra := &config.RuntimeAPI{}
	var used, unused []string
	for i := 0; i < len(opts); i++ {
		k, v := opts[i], ""
		if i+1 < len(opts) {
			v = opts[i+1]
		}
		switch k {
		case "mode":
			if _, err := strconv.ParseUint(v, 8, 32); err == nil {
				ra.Mode = "0" + strings.TrimLeft(v, "0")
				used, i = append(used, k+" "+v), i+1
				continue
			}
		case "user", "uid":
			ra.User = v
			used, i = append(used, k+" "+v), i+1
			continue
		case "group", "gid":
			ra.Group = v
			used, i = append(used, k+" "+v), i+1
			continue
		case "level":
			if v == "user" || v == "operator" || v == "admin" {
				ra.Level = v
				used, i = append(used, k+" "+v), i+1
				continue
			}
		case "expose-fd":
			unused, i = append(unused, k+" "+v+" (lbd hands its sockets to a new binary itself: lbctl upgrade)"), i+1
			continue
		}
		unused = append(unused, k)
	}
	var b strings.Builder
	if len(used) > 0 {
		m.cfg.Global.RuntimeAPI = ra
		fmt.Fprintf(&b, "; %q is global.runtime_api", strings.Join(used, " "))
	} else {
		b.WriteString("; level operator, HAProxy's default: add `level admin` to allow enable/disable server")
	}
	if len(unused) > 0 {
		fmt.Fprintf(&b, "; not used: %s", strings.Join(unused, ", "))
	}
	return b.String()
}
