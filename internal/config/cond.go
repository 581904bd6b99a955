package config

import (
	"fmt"
	"strings"
)

// Condition is a parsed `if`/`unless` expression in HAProxy's syntax: terms
// separated by spaces are AND-ed, `||` or `or` separates OR-ed groups, and
// `!` negates one ACL. Matches when any group has all its terms true.
type Condition struct {
	Or [][]Term
}

// Term is one ACL reference in a condition.
type Term struct {
	ACL string
	Not bool
}

// maxConditionLen bounds a condition string.
const maxConditionLen = 4096

// ParseCondition parses s. When known is non-nil every ACL name must be in it.
func ParseCondition(s string, known map[string]bool) (Condition, error) {
	if len(s) > maxConditionLen {
		return Condition{}, fmt.Errorf("condition longer than %d bytes", maxConditionLen)
	}
	var cond Condition
	var group []Term
	neg := false
	flush := func() error {
		if neg {
			return fmt.Errorf("condition %q: '!' must be followed by an ACL name", s)
		}
		if len(group) == 0 {
			return fmt.Errorf("condition %q: empty term around '||'", s)
		}
		cond.Or = append(cond.Or, group)
		group = nil
		return nil
	}
	for _, tok := range strings.Fields(s) {
		switch {
		case tok == "||" || tok == "or":
			if err := flush(); err != nil {
				return Condition{}, err
			}
		case tok == "!":
			neg = !neg
		case strings.HasPrefix(tok, "{") || strings.HasSuffix(tok, "}"):
			return Condition{}, fmt.Errorf("condition %q: anonymous ACLs { ... } are not supported; declare a named ACL", s)
		default:
			name := tok
			for strings.HasPrefix(name, "!") {
				neg = !neg
				name = name[1:]
			}
			if name == "" {
				return Condition{}, fmt.Errorf("condition %q: '!' must be followed by an ACL name", s)
			}
			if known != nil && !known[name] {
				return Condition{}, fmt.Errorf("condition %q: ACL %q is not declared in this frontend", s, name)
			}
			group = append(group, Term{ACL: name, Not: neg})
			neg = false
		}
	}
	if len(group) == 0 && len(cond.Or) == 0 {
		return Condition{}, fmt.Errorf("empty condition")
	}
	if err := flush(); err != nil {
		return Condition{}, err
	}
	return cond, nil
}

// Eval evaluates the condition with the given ACL results.
func (c Condition) Eval(acl func(name string) bool) bool {
	for _, g := range c.Or {
		ok := true
		for _, t := range g {
			if acl(t.ACL) == t.Not {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
