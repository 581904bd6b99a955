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
	toks := strings.Fields(s)
	if strings.ContainsAny(s, "{}") {
		toks = strings.Fields(strings.NewReplacer("{", " { ", "}", " } ").Replace(s))
	}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case tok == "{":
			j := i + 1
			for j < len(toks) && toks[j] != "}" {
				j++
			}
			if j == len(toks) || j == i+1 {
				return Condition{}, fmt.Errorf("condition %q: unterminated or empty { }", s)
			}
			crit, vals := toks[i+1], toks[i+2:j]
			if !validCriteria[crit] && !hdrCriterionRe.MatchString(crit) {
				return Condition{}, fmt.Errorf("condition %q: unknown criterion %q in { }", s, crit)
			}
			if crit == "ssl_fc" && len(vals) > 0 {
				return Condition{}, fmt.Errorf("condition %q: ssl_fc takes no values", s)
			}
			if crit != "ssl_fc" && (len(vals) == 0 || len(vals) == 1 && vals[0] == "-i") {
				return Condition{}, fmt.Errorf("condition %q: { %s } needs values", s, crit)
			}
			group = append(group, Term{ACL: "{ " + strings.Join(toks[i+1:j], " ") + " }", Not: neg, Anon: true, Criterion: crit, Values: vals})
			neg = false
			i = j
		case tok == "||" || tok == "or":
			if err := flush(); err != nil {
				return Condition{}, err
			}
		case tok == "!":
			neg = !neg
		case tok == "}":
			return Condition{}, fmt.Errorf("condition %q: '}' without '{'", s)
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
