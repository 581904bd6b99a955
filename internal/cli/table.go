package cli

import (
	"io"
	"strings"
	"unicode/utf8"
)

// table prints aligned columns; colour codes are added after padding so
// they never break the alignment.
type table struct {
	rows   [][]string
	colour [][]string // ANSI prefix per cell, "" for none
}

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
	t.colour = append(t.colour, nil)
}

// addc adds a row whose cell i is coloured with codes[i] (may be shorter).
func (t *table) addc(codes []string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.colour = append(t.colour, codes)
}

func (t *table) write(w io.Writer, indent string, useColour bool) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for ri, r := range t.rows {
		b.WriteString(indent)
		for i, c := range r {
			code := ""
			if useColour && i < len(t.colour[ri]) {
				code = t.colour[ri][i]
			}
			if code != "" {
				b.WriteString(code)
			}
			b.WriteString(c)
			if code != "" {
				b.WriteString("\x1b[0m")
			}
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}
