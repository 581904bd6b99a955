// Package logformat parses HAProxy log-format strings (the subset lbd
// renders: docs/operations.md lists the variables). It is separate from
// internal/logs so that the configuration loader can refuse a bad format,
// with its position, without importing the loggers.
package logformat

import (
	"fmt"
	"strings"
)

// Var is one log-format variable.
type Var uint8

// Variables (HAProxy's names in the comments).
const (
	Lit          Var = iota // literal text
	ClientIP                // %ci
	ClientPort              // %cp
	RequestDate             // %tr, %t: accept date dd/Mon/yyyy:HH:MM:SS.mmm
	Frontend                // %ft, %f
	Backend                 // %b
	Server                  // %s
	TR                      // %TR
	Tw                      // %Tw
	Tc                      // %Tc
	Tr                      // %Tr
	Ta                      // %Ta
	Tt                      // %Tt
	Status                  // %ST
	Bytes                   // %B
	ReqCookie               // %CC
	RespCookie              // %CS
	TermState               // %tsc (4 characters)
	TermState2              // %ts (2 characters)
	ActConn                 // %ac
	FeConn                  // %fc
	BeConn                  // %bc
	SrvConn                 // %sc
	Retries                 // %rc
	SrvQueue                // %sq
	BackendQueue            // %bq
	ReqHeaders              // %hr (captured request headers: none in lbd, empty)
	RespHeaders             // %hs (captured response headers: empty)
	RequestLine             // %r
)

// Names maps a variable name (without %) to its Var.
var Names = map[string]Var{
	"ci": ClientIP, "cp": ClientPort, "tr": RequestDate, "t": RequestDate, "ft": Frontend, "f": Frontend,
	"b": Backend, "s": Server, "TR": TR, "Tw": Tw, "Tc": Tc, "Tr": Tr, "Ta": Ta, "Tt": Tt,
	"ST": Status, "B": Bytes, "CC": ReqCookie, "CS": RespCookie, "tsc": TermState, "ts": TermState2,
	"ac": ActConn, "fc": FeConn, "bc": BeConn, "sc": SrvConn, "rc": Retries, "sq": SrvQueue,
	"bq": BackendQueue, "hr": ReqHeaders, "hs": RespHeaders, "r": RequestLine,
}

// Item is one piece of a format: literal text, or a variable with its
// options.
type Item struct {
	Var   Var
	Text  string // Lit only
	Quote bool   // %{+Q}: the value in double quotes
}

// Error is a format problem at a 1-based byte column of the format string.
type Error struct {
	Col int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// Parse compiles a log-format string. "%%" is a literal percent sign.
func Parse(s string) ([]Item, error) {
	var items []Item
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			items = append(items, Item{Var: Lit, Text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		start := i
		i++
		if i < len(s) && s[i] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		it := Item{}
		if i < len(s) && s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, &Error{Col: i + 1, Msg: "unterminated %{ options"}
			}
			for _, opt := range strings.Split(s[i+1:i+end], ",") {
				switch opt {
				case "+Q":
					it.Quote = true
				case "-Q":
					it.Quote = false
				default:
					return nil, &Error{Col: i + 2, Msg: fmt.Sprintf("unsupported option %q (lbd knows +Q and -Q)", opt)}
				}
			}
			i += end + 1
		}
		if i < len(s) && s[i] == '[' {
			return nil, &Error{Col: start + 1, Msg: "sample expressions %[...] are not supported"}
		}
		j := i
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		if j == i {
			return nil, &Error{Col: start + 1, Msg: "% without a variable name (write %% for a percent sign)"}
		}
		v, ok := Names[s[i:j]]
		if !ok {
			return nil, &Error{Col: start + 1, Msg: fmt.Sprintf("unknown variable %%%s", s[i:j])}
		}
		flush()
		it.Var = v
		items = append(items, it)
		i = j
	}
	flush()
	return items, nil
}

// HTTPLog is HAProxy's `option httplog` as a log-format string (without
// the captured header blocks lbd never has).
const HTTPLog = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r"
