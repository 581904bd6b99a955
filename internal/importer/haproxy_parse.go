package importer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// hLine is one haproxy.cfg directive: its words after unquoting and
// unescaping, the comment lines above it and the comment after it.
type hLine struct {
	Num      int
	Args     []string
	Head     []string // full-line comments just above (without '#')
	Trailing string   // comment after the directive on the same line
}

// hSection is one haproxy.cfg section.
type hSection struct {
	hLine            // the header line: Args[0] is the section keyword
	Kind    string   // global, defaults, frontend, backend, listen, or an unsupported kind
	Name    string   // proxy name ("" for global and unnamed defaults)
	Extra   []string // header words after the name (old `listen NAME ADDR` form)
	Lines   []hLine
	Skipped bool // a known but unsupported section (userlist, peers, ...)
}

type hFile struct {
	Name     string
	Sections []*hSection
	Tail     []string // comments after the last directive
}

var sectionKinds = map[string]bool{"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true}

// unsupportedSections are valid HAProxy sections lbd has no equivalent for.
var unsupportedSections = map[string]bool{
	"userlist": true, "peers": true, "resolvers": true, "mailers": true, "cache": true,
	"program": true, "http-errors": true, "ring": true, "fcgi-app": true, "log-forward": true,
	"crt-store": true, "traces": true, "acme": true,
}

// parseHAProxy tokenises a haproxy.cfg into sections.
func parseHAProxy(name string, data []byte) (*hFile, error) {
	lines, err := splitLines(name, data)
	if err != nil {
		return nil, err
	}
	f := &hFile{Name: name}
	var cur *hSection
	var pending []string
	for i, raw := range lines {
		num := i + 1
		args, comment, err := tokenizeHAProxy(raw)
		if err != nil {
			return nil, &ParseError{File: name, Line: num, Msg: err.Error()}
		}
		for _, a := range args {
			if strings.IndexByte(a, 0) >= 0 || !utf8.ValidString(a) {
				return nil, &ParseError{File: name, Line: num, Msg: "escape decodes to a NUL byte or invalid UTF-8"}
			}
		}
		if len(args) == 0 {
			if hasComment(raw) {
				pending = append(pending, comment)
			}
			continue
		}
		l := hLine{Num: num, Args: args, Head: pending, Trailing: comment}
		pending = nil
		kw := args[0]
		if sectionKinds[kw] || unsupportedSections[kw] {
			s, err := newSection(name, l)
			if err != nil {
				return nil, err
			}
			f.Sections = append(f.Sections, s)
			cur = s
			continue
		}
		if cur == nil {
			msg := fmt.Sprintf("unknown section %q (expected global, defaults, frontend, backend or listen)", kw)
			return nil, &ParseError{File: name, Line: num, Msg: msg}
		}
		if guess := misspeltSection(kw, args); guess != "" {
			msg := fmt.Sprintf("unknown section or keyword %q in %s section (did you mean %q?)", kw, cur.Kind, guess)
			return nil, &ParseError{File: name, Line: num, Msg: msg}
		}
		cur.Lines = append(cur.Lines, l)
	}
	f.Tail = pending
	return f, nil
}

func newSection(file string, l hLine) (*hSection, error) {
	s := &hSection{hLine: l, Kind: l.Args[0]}
	if unsupportedSections[s.Kind] {
		s.Skipped = true
		if len(l.Args) > 1 {
			s.Name = l.Args[1]
		}
		return s, nil
	}
	switch s.Kind {
	case "global":
		if len(l.Args) > 1 {
			return nil, &ParseError{File: file, Line: l.Num, Msg: "global section takes no name"}
		}
	case "defaults":
		if len(l.Args) > 1 {
			s.Name = l.Args[1]
			s.Extra = l.Args[2:]
		}
	default:
		if len(l.Args) < 2 {
			return nil, &ParseError{File: file, Line: l.Num, Msg: fmt.Sprintf("%s section needs a name", s.Kind)}
		}
		s.Name = l.Args[1]
		s.Extra = l.Args[2:]
		if err := checkName(s.Name); err != nil {
			return nil, &ParseError{File: file, Line: l.Num, Msg: fmt.Sprintf("%s %q: %v", s.Kind, s.Name, err)}
		}
	}
	return s, nil
}

// checkName applies HAProxy's rule for proxy, server and ACL names.
func checkName(n string) error {
	if n == "" {
		return fmt.Errorf("empty name")
	}
	if len(n) > 256 {
		return fmt.Errorf("name longer than 256 bytes")
	}
	for _, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return fmt.Errorf("invalid character %q in name (allowed: letters, digits, - _ . :)", c)
		}
	}
	return nil
}

// misspeltSection returns the section keyword kw was probably meant to be,
// when kw is not a known keyword but within two edits of a section name and
// used like a section header (a name and at most an address).
func misspeltSection(kw string, args []string) string {
	if knownKeyword(kw) || len(args) > 3 {
		return ""
	}
	for s := range sectionKinds {
		if s != "global" && s != "defaults" && len(args) < 2 {
			continue
		}
		if editDistance(kw, s, 2) <= 2 {
			return s
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, capped at max+1.
func editDistance(a, b string, max int) int {
	if len(a) > 32 || len(b) > 32 {
		return max + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	if prev[len(b)] > max {
		return max + 1
	}
	return prev[len(b)]
}

// hasComment reports whether a line without words holds a comment.
func hasComment(raw string) bool {
	return strings.HasPrefix(strings.TrimLeft(raw, " \t"), "#")
}

// tokenizeHAProxy splits one line into words as HAProxy does: blanks
// separate words, '#' outside quotes starts a comment, a backslash escapes
// the next character (\r \n \t and \xHH are decoded), double quotes group
// words and still decode escapes, single quotes are literal.
func tokenizeHAProxy(line string) (args []string, comment string, err error) {
	var b strings.Builder
	inWord := false
	var quote byte
	flush := func() error {
		if inWord {
			if len(args) >= MaxWords {
				return fmt.Errorf("too many words on one line (at most %d)", MaxWords)
			}
			args = append(args, b.String())
			b.Reset()
			inWord = false
		}
		return nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '\\':
			inWord = true
			if i+1 >= len(line) {
				b.WriteByte(c)
				continue
			}
			i++
			switch n := line[i]; n {
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'x':
				if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
					b.WriteByte(unhex(line[i+1])<<4 | unhex(line[i+2]))
					i += 2
				} else {
					return nil, "", fmt.Errorf("invalid \\x escape at column %d", i)
				}
			case ' ', '\t', '\\', '#', '"', '\'', '$':
				b.WriteByte(n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			if err := flush(); err != nil {
				return nil, "", err
			}
		case c == '#':
			comment = strings.TrimSpace(line[i+1:])
			if err := flush(); err != nil {
				return nil, "", err
			}
			return args, comment, nil
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, "", fmt.Errorf("unterminated %c quote", quote)
	}
	if err := flush(); err != nil {
		return nil, "", err
	}
	return args, "", nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
