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

// Term is one ACL reference in a condition. An anonymous ACL
// ("{ ssl_fc }", "{ path_beg /api }") has Anon set: ACL is its text and
// Criterion/Values its parts.
type Term struct {
	ACL       string
	Not       bool
	Anon      bool
	Criterion string
	Values    []string
}

// maxConditionLen bounds a condition string.
const maxConditionLen = 4096

// ParseCondition parses s. When known is non-nil every ACL name must be in
// it. Anonymous ACLs `{ CRITERION [-i] VALUE... }` are checked and kept as
// terms named by their text.
func ParseCondition(s string, known map[string]bool) (Condition, error) {
	c, _, err := ParseConditionAt(s, known)
	return c, err
}

// ParseConditionAt is ParseCondition that also returns the byte offset in s
// of the token a problem is about (0 when none).
func ParseConditionAt(s string, known map[string]bool) (Condition, int, error) {
	if len(s) > maxConditionLen {
		return Condition{}, 0, fmt.Errorf("condition longer than %d bytes", maxConditionLen)
	}
	type tok struct {
		s   string
		off int
	}
	var toks []tok
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		toks = append(toks, tok{s[i:j], i})
		i = j
	}
	var cond Condition
	var group []Term
	neg := false
	flush := func(off int) (int, error) {
		if neg {
			return off, fmt.Errorf("condition %q: '!' must be followed by an ACL name", s)
		}
		if len(group) == 0 {
			return off, fmt.Errorf("condition %q: empty term around '||'", s)
		}
		cond.Or = append(cond.Or, group)
		group = nil
		return 0, nil
	}
	for k := 0; k < len(toks); k++ {
		t := toks[k]
		switch {
		case t.s == "||" || t.s == "or":
			if off, err := flush(t.off); err != nil {
				return Condition{}, off, err
			}
		case t.s == "!":
			neg = !neg
		case t.s == "{" || t.s == "!{":
			if t.s == "!{" {
				neg = !neg
			}
			e := k + 1
			for e < len(toks) && toks[e].s != "}" {
				e++
			}
			if e == len(toks) {
				return Condition{}, t.off, fmt.Errorf("condition %q: '{' without a matching ' }'", s)
			}
			parts := toks[k+1 : e]
			if len(parts) == 0 {
				return Condition{}, t.off, fmt.Errorf("condition %q: empty { }", s)
			}
			var vals []string
			for _, p := range parts[1:] {
				if p.s == "-i" && len(vals) == 0 {
					continue
				}
				vals = append(vals, p.s)
			}
			if err := CheckCriterion(parts[0].s, vals); err != nil {
				return Condition{}, parts[0].off, fmt.Errorf("condition %q: %v", s, err)
			}
			start := t.off
			if t.s == "!{" {
				start++
			}
			group = append(group, Term{ACL: s[start : toks[e].off+1], Not: neg, Anon: true, Criterion: parts[0].s, Values: vals})
			neg = false
			k = e
		case strings.HasPrefix(t.s, "{") || strings.HasSuffix(t.s, "}"):
			return Condition{}, t.off, fmt.Errorf("condition %q: braces must stand apart: { criterion value }", s)
		default:
			name := t.s
			for strings.HasPrefix(name, "!") {
				neg = !neg
				name = name[1:]
			}
			if name == "" {
				return Condition{}, t.off, fmt.Errorf("condition %q: '!' must be followed by an ACL name", s)
			}
			if known != nil && !known[name] {
				return Condition{}, t.off, fmt.Errorf("condition %q: ACL %q is not declared in this frontend", s, name)
			}
			group = append(group, Term{ACL: name, Not: neg})
			neg = false
		}
	}
	if len(group) == 0 && len(cond.Or) == 0 {
		return Condition{}, 0, fmt.Errorf("empty condition")
	}
	if off, err := flush(len(s)); err != nil {
		return Condition{}, off, err
	}
	return cond, 0, nil
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
