package proxy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// aclEnv is what conditions may refer to besides the request: named ACLs,
// transaction variables and stick tables.
type aclEnv struct {
	named    map[string][]*acl
	vars     map[string]int // "txn.NAME" -> index in ruleState.vars
	tables   map[string]*stickTable
	defTable *stickTable // the table named after the frontend, if any
}

// maxVars bounds the transaction variables of a frontend.
const maxVars = 16

// varIndex returns the index of a txn variable, allocating one.
func (env *aclEnv) varIndex(name string) (int, error) {
	if !strings.HasPrefix(name, "txn.") || len(name) < 5 {
		return 0, fmt.Errorf("variable %q: only txn.NAME variables are supported", name)
	}
	if i, ok := env.vars[name]; ok {
		return i, nil
	}
	if len(env.vars) >= maxVars {
		return 0, fmt.Errorf("variable %q: more than %d variables", name, maxVars)
	}
	if env.vars == nil {
		env.vars = map[string]int{}
	}
	i := len(env.vars)
	env.vars[name] = i
	return i, nil
}

type intOp uint8

const (
	opEq intOp = iota
	opGt
	opGe
	opLt
	opLe
)

// intFetch reads a stick counter: of a tracked entry (sc slot n) or of the
// client address looked up in a table.
type intFetch struct {
	slot  int         // 0..2; -1: src lookup
	table *stickTable // src lookup
	ctr   int
}

// maxSC is the number of track-sc slots (sc0, sc1, sc2).
const maxSC = 3

func ctrIndex(name string) int {
	for i, n := range ctrNames {
		if n == name {
			return i
		}
	}
	return -1
}

// compileExtACL compiles the criteria acl.go does not know: var(txn.NAME)
// and the stick-counter fetches sc_CTR(N), scN_CTR, src_CTR[(TABLE)].
func compileExtACL(a ACL, crit string, env *aclEnv) (*acl, bool, error) {
	name, arg := crit, ""
	if i := strings.IndexByte(crit, '('); i >= 0 {
		if !strings.HasSuffix(crit, ")") {
			return nil, false, nil
		}
		name, arg = crit[:i], strings.TrimSpace(crit[i+1:len(crit)-1])
	}
	if env == nil {
		env = &aclEnv{}
	}
	switch {
	case name == "var":
		idx, err := env.varIndex(arg)
		if err != nil {
			return nil, true, fmt.Errorf("acl %s: %w", a.Name, err)
		}
		if len(a.Values) == 0 {
			return nil, true, fmt.Errorf("acl %s: no values", a.Name)
		}
		c := &acl{kind: aclVar, vr: idx, icase: a.IgnoreCase}
		for _, v := range a.Values {
			if a.IgnoreCase {
				v = strings.ToLower(v)
			}
			c.vals = append(c.vals, []byte(v))
		}
		return c, true, nil
	case strings.HasPrefix(name, "sc_") || strings.HasPrefix(name, "src_") || len(name) > 4 && name[0] == 's' && name[1] == 'c' && name[2] >= '0' && name[2] <= '2' && name[3] == '_':
	default:
		return nil, false, nil
	}
	var f intFetch
	var ctr string
	switch {
	case strings.HasPrefix(name, "sc_"):
		ctr = name[3:]
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n >= maxSC {
			return nil, true, fmt.Errorf("acl %s: %s needs a slot 0, 1 or 2, e.g. %s(0)", a.Name, name, name)
		}
		f.slot = n
	case strings.HasPrefix(name, "src_"):
		ctr = name[4:]
		f.slot = -1
		if arg != "" {
			f.table = env.tables[arg]
			if f.table == nil {
				return nil, true, fmt.Errorf("acl %s: unknown stick table %q", a.Name, arg)
			}
		} else if f.table = env.defTable; f.table == nil {
			return nil, true, fmt.Errorf("acl %s: %s needs a table: %s(TABLE) (or a stick table in this frontend)", a.Name, name, name)
		}
	default:
		ctr = name[4:]
		f.slot = int(name[2] - '0')
		if arg != "" {
			return nil, true, fmt.Errorf("acl %s: %s takes no argument", a.Name, name)
		}
	}
	if f.ctr = ctrIndex(ctr); f.ctr < 0 {
		return nil, true, fmt.Errorf("acl %s: unknown counter %q in %s (known: %s)", a.Name, ctr, crit, strings.Join(ctrNames[:], ", "))
	}
	c := &acl{kind: aclInt, intF: f}
	vals := a.Values
	if len(vals) > 0 {
		switch vals[0] {
		case "eq":
			c.intOp, vals = opEq, vals[1:]
		case "gt":
			c.intOp, vals = opGt, vals[1:]
		case "ge":
			c.intOp, vals = opGe, vals[1:]
		case "lt":
			c.intOp, vals = opLt, vals[1:]
		case "le":
			c.intOp, vals = opLe, vals[1:]
		}
	}
	if len(vals) == 0 {
		return nil, true, fmt.Errorf("acl %s: %s needs an integer, e.g. gt 20", a.Name, crit)
	}
	for _, v := range vals {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, true, fmt.Errorf("acl %s: %q is not an integer", a.Name, v)
		}
		c.ints = append(c.ints, n)
	}
	if c.intOp != opEq && len(c.ints) != 1 {
		return nil, true, fmt.Errorf("acl %s: an operator takes one integer", a.Name)
	}
	return c, true, nil
}

func (c *acl) matchInt(v int64) bool {
	for _, n := range c.ints {
		var ok bool
		switch c.intOp {
		case opEq:
			ok = v == n
		case opGt:
			ok = v > n
		case opGe:
			ok = v >= n
		case opLt:
			ok = v < n
		case opLe:
			ok = v <= n
		}
		if ok {
			return true
		}
	}
	return false
}

// intValue reads a stick counter; false when the slot tracks nothing or
// the table does not store the counter (the ACL then does not match).
func (m *matchCtx) intValue(f *intFetch) (int64, bool) {
	if f.slot < 0 {
		v, ok := f.table.lookup(m.src, f.ctr, time.Now().UnixNano())
		return int64(v), ok
	}
	var tr *scTrack
	if m.rs != nil && m.rs.sc[f.slot].e != nil {
		tr = &m.rs.sc[f.slot]
	} else if m.ct != nil && m.ct.sc[f.slot].e != nil {
		tr = &m.ct.sc[f.slot]
	}
	if tr == nil {
		return 0, false
	}
	v, ok := tr.t.value(tr.e, f.ctr)
	return int64(v), ok
}

// scTrack is one track-sc slot: a held reference on a table entry.
type scTrack struct {
	t *stickTable
	e *stickEntry
}

// connTrack holds the slots tracked by tcp_request connection rules for the
// life of a connection.
type connTrack struct {
	sc [maxSC]scTrack
}

func (ct *connTrack) release(in, out uint64) {
	if ct == nil {
		return
	}
	for i := range ct.sc {
		if s := &ct.sc[i]; s.e != nil {
			s.t.release(s.e, 0, in, out)
			s.e = nil
		}
	}
}
