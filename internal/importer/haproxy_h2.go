package importer

import (
	"fmt"
)

// bindProto maps a bind line's `proto NAME` (rest[*i] is "proto"): `proto
// h2` (cleartext HTTP/2 with prior knowledge) becomes the section's
// `proto: h2`, which lbd applies to every bind of the section. It reports
// whether it consumed the option.
func (m *mapper) bindProto(t *target, l hLine, rest []string, i *int) bool {
	if rest[*i] != "proto" || *i+1 >= len(rest) || t.fe == nil || t.stats != nil {
		return false
	}
	name := rest[*i+1]
	if name != "h2" {
		return false
	}
	*i++
	fe := t.fe
	if fe.Proto == "" && len(fe.Bind) > 0 && !t.quiet {
		m.warnf(l.Num, directiveName(l.Args), t.path, "%s", fmt.Sprintf("proto %s applies to every bind of the section in lbd (HAProxy: this bind only)", name))
	}
	fe.Proto = name
	m.done(t, l, "proto")
	return true
}
