package cli

import (
	"fmt"
	"strings"
)

// maxDiffCells bounds the LCS table (lines after the common prefix and
// suffix are stripped): beyond it the diff is one replaced block.
const maxDiffCells = 4 << 20

// unifiedDiff returns a unified diff of a and b by lines ("" if equal).
func unifiedDiff(nameA, nameB, a, b string, context int) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	// Group ops into hunks with context lines around changes.
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int // line index in a (for ' ' and '-')
		bi   int // line index in b (for ' ' and '+')
	}
	var all []op
	ai, bi := 0, 0
	for _, k := range ops {
		switch k {
		case ' ':
			all = append(all, op{' ', x[ai], ai, bi})
			ai++
			bi++
		case '-':
			all = append(all, op{'-', x[ai], ai, bi})
			ai++
		case '+':
			all = append(all, op{'+', y[bi], ai, bi})
			bi++
		}
	}
	for i := 0; i < len(all); {
		if all[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-context, 0)
		end := i
		for end < len(all) {
			if all[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(all) && all[run].kind == ' ' {
				run++
			}
			if run == len(all) || run-end > 2*context {
				end = min(end+context, len(all))
				break
			}
			end = run
		}
		var aN, bN int
		for _, o := range all[start:end] {
			if o.kind != '+' {
				aN++
			}
			if o.kind != '-' {
				bN++
			}
		}
		aS, bS := all[start].ai+1, all[start].bi+1
		if aN == 0 {
			aS--
		}
		if bN == 0 {
			bS--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", aS, aN, bS, bN)
		for _, o := range all[start:end] {
			out.WriteByte(o.kind)
			out.WriteString(o.text)
			out.WriteByte('\n')
		}
		i = end
	}
	return out.String()
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// diffLines returns the edit script (' ', '-', '+') turning x into y: the
// longest common subsequence of the lines between a common prefix and
// suffix.
func diffLines(x, y []string) []byte {
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	var ops []byte
	for i := 0; i < pre; i++ {
		ops = append(ops, ' ')
	}
	n, m := len(mx), len(my)
	if (n+1)*(m+1) > maxDiffCells {
		for range mx {
			ops = append(ops, '-')
		}
		for range my {
			ops = append(ops, '+')
		}
	} else {
		// lcs[i][j]: LCS length of mx[i:] and my[j:].
		lcs := make([]int32, (n+1)*(m+1))
		at := func(i, j int) int32 { return lcs[i*(m+1)+j] }
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if mx[i] == my[j] {
					lcs[i*(m+1)+j] = at(i+1, j+1) + 1
				} else {
					lcs[i*(m+1)+j] = max(at(i+1, j), at(i, j+1))
				}
			}
		}
		i, j := 0, 0
		for i < n && j < m {
			switch {
			case mx[i] == my[j]:
				ops = append(ops, ' ')
				i++
				j++
			case at(i+1, j) >= at(i, j+1):
				ops = append(ops, '-')
				i++
			default:
				ops = append(ops, '+')
				j++
			}
		}
		for ; i < n; i++ {
			ops = append(ops, '-')
		}
		for ; j < m; j++ {
			ops = append(ops, '+')
		}
	}
	for i := 0; i < suf; i++ {
		ops = append(ops, ' ')
	}
	return ops
}
