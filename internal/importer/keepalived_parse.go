package importer

import (
	"fmt"
	"strings"
)

// kNode is one keepalived.conf statement, with its block when it has one.
type kNode struct {
	Line     int
	Args     []string
	Block    []*kNode
	HasBlock bool
	Head     []string // comment lines above
	Trailing string   // comment after the statement on its line
}

type kFile struct {
	Name  string
	Nodes []*kNode
	Tail  []string
}

type kTokKind int

const (
	kWord kTokKind = iota
	kOpen
	kClose
	kEOL
)

type kTok struct {
	kind kTokKind
	text string
	line int
}

// tokenizeKeepalived splits a keepalived.conf into words, braces and line
// ends. '!' or '#' at the start of a word begins a comment; double or single
// quotes group words (no escapes inside, as keepalived).
func tokenizeKeepalived(name string, data []byte) ([]kTok, map[int]string, map[int]bool, error) {
	lines, err := splitLines(name, data)
	if err != nil {
		return nil, nil, nil, err
	}
	var toks []kTok
	comments := map[int]string{} // line -> comment text
	fullLine := map[int]bool{}   // line holds only a comment
	for i, raw := range lines {
		num := i + 1
		var b strings.Builder
		inWord := false
		words := 0
		flush := func() error {
			if inWord {
				words++
				if words > MaxWords {
					return &ParseError{File: name, Line: num, Msg: fmt.Sprintf("too many words on one line (at most %d)", MaxWords)}
				}
				toks = append(toks, kTok{kWord, b.String(), num})
				b.Reset()
				inWord = false
			}
			return nil
		}
		start := len(toks)
		for j := 0; j < len(raw); j++ {
			c := raw[j]
			switch {
			case c == '"' || c == '\'':
				k := strings.IndexByte(raw[j+1:], c)
				if k < 0 {
					return nil, nil, nil, &ParseError{File: name, Line: num, Msg: fmt.Sprintf("unterminated %c quote", c)}
				}
				b.WriteString(raw[j+1 : j+1+k])
				inWord = true
				j += k + 1
			case c == ' ' || c == '\t':
				if err := flush(); err != nil {
					return nil, nil, nil, err
				}
			case (c == '#' || c == '!') && !inWord:
				comments[num] = strings.TrimSpace(raw[j+1:])
				fullLine[num] = len(toks) == start
				j = len(raw)
			case c == '{' || c == '}':
				if err := flush(); err != nil {
					return nil, nil, nil, err
				}
				kind := kOpen
				if c == '}' {
					kind = kClose
				}
				toks = append(toks, kTok{kind, string(c), num})
			default:
				b.WriteByte(c)
				inWord = true
			}
		}
		if err := flush(); err != nil {
			return nil, nil, nil, err
		}
		toks = append(toks, kTok{kEOL, "", num})
	}
	return toks, comments, fullLine, nil
}

type kParser struct {
	name     string
	toks     []kTok
	pos      int
	comments map[int]string
	fullLine map[int]bool
	pending  []string
	lastLine int
}

// parseKeepalived parses keepalived.conf into a statement tree.
func parseKeepalived(name string, data []byte) (*kFile, error) {
	toks, comments, fullLine, err := tokenizeKeepalived(name, data)
	if err != nil {
		return nil, err
	}
	p := &kParser{name: name, toks: toks, comments: comments, fullLine: fullLine}
	nodes, err := p.block(0, 0)
	if err != nil {
		return nil, err
	}
	p.collect(len(data) + 1)
	return &kFile{Name: name, Nodes: nodes, Tail: p.pending}, nil
}

// collect moves the full-line comments above line into pending.
func (p *kParser) collect(line int) {
	for l := p.lastLine + 1; l < line && l <= p.lastLine+MaxLines; l++ {
		if p.fullLine[l] {
			p.pending = append(p.pending, p.comments[l])
		}
	}
	if line > p.lastLine {
		p.lastLine = line
	}
}

// block parses statements until the closing brace (depth > 0) or the end.
func (p *kParser) block(depth, openLine int) ([]*kNode, error) {
	if depth > MaxDepth {
		return nil, &ParseError{File: p.name, Line: openLine, Msg: fmt.Sprintf("blocks nested deeper than %d", MaxDepth)}
	}
	var nodes []*kNode
	var cur *kNode
	finish := func() {
		if cur != nil {
			nodes = append(nodes, cur)
			cur = nil
		}
	}
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		switch t.kind {
		case kWord:
			if cur == nil {
				p.collect(t.line)
				cur = &kNode{Line: t.line, Head: p.pending, Trailing: p.comments[t.line]}
				if p.fullLine[t.line] {
					cur.Trailing = ""
				}
				p.pending = nil
			}
			cur.Args = append(cur.Args, t.text)
		case kOpen:
			if cur == nil {
				// `keyword` on one line and `{` on the next.
				if len(nodes) == 0 || nodes[len(nodes)-1].HasBlock {
					return nil, &ParseError{File: p.name, Line: t.line, Msg: "'{' without a keyword before it"}
				}
				cur = nodes[len(nodes)-1]
				nodes = nodes[:len(nodes)-1]
			}
			if cur.HasBlock {
				return nil, &ParseError{File: p.name, Line: t.line, Msg: "second '{' after one keyword"}
			}
			children, err := p.block(depth+1, t.line)
			if err != nil {
				return nil, err
			}
			cur.Block, cur.HasBlock = children, true
			finish()
		case kClose:
			finish()
			if depth == 0 {
				return nil, &ParseError{File: p.name, Line: t.line, Msg: "'}' without a matching '{'"}
			}
			return nodes, nil
		case kEOL:
			finish()
		}
	}
	finish()
	if depth > 0 {
		return nil, &ParseError{File: p.name, Line: openLine, Msg: "block opened here is never closed (missing '}')"}
	}
	return nodes, nil
}
