package importer

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lbd-ha/lbd/internal/config"
)

var (
	durationType = reflect.TypeOf(time.Duration(0))
	bindType     = reflect.TypeOf(config.Bind{})
)

// encoder turns a config value into a yaml.Node tree following the yaml
// struct tags (omitempty, inline), writes durations as strings with units
// and attaches the mapper's comments by node path: "global.maxconn",
// "frontends[0]", "frontends[0].acls[1]".
type encoder struct {
	head map[string][]string
	line map[string]string
	used map[string]bool
}

func commentText(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		l = sanitizeComment(l)
		if l == "" {
			b.WriteString("#")
		} else {
			b.WriteString("# " + l)
		}
	}
	return b.String()
}

// sanitizeComment keeps a comment on one line whatever bytes it quotes.
func sanitizeComment(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 && r != '\t' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085'
	}) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (e *encoder) headFor(path string) string {
	if h, ok := e.head[path]; ok && len(h) > 0 {
		e.used[path] = true
		return commentText(h)
	}
	return ""
}

func (e *encoder) lineFor(path string) string {
	if l, ok := e.line[path]; ok && l != "" {
		e.used[path] = true
		return commentText([]string{l})
	}
	return ""
}

// isEmpty is yaml's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map, reflect.String:
		return v.Len() == 0
	default:
		return v.IsZero()
	}
}

func scalar(v, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// value encodes v; path names it for comments.
func (e *encoder) value(v reflect.Value, path string) *yaml.Node {
	if v.Type() == durationType {
		return scalar(formatDuration(time.Duration(v.Int())), "!!str")
	}
	if v.Type() == bindType && v.FieldByName("SSL").IsNil() {
		return scalar(v.FieldByName("Address").String(), "!!str") // a plain bind is a string
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return scalar("null", "!!null")
		}
		return e.value(v.Elem(), path)
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		e.fields(n, v, path)
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := 0; i < v.Len(); i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			item := e.value(v.Index(i), p)
			item.HeadComment = e.headFor(p)
			if lc := e.lineFor(p); lc != "" {
				if item.Kind == yaml.MappingNode && len(item.Content) >= 2 && item.Content[1].Kind == yaml.ScalarNode {
					item.Content[1].LineComment = lc
				} else if item.Kind == yaml.ScalarNode {
					item.LineComment = lc
				}
			}
			n.Content = append(n.Content, item)
		}
		return n
	case reflect.String:
		return scalar(v.String(), "!!str")
	case reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool()), "!!bool")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar(strconv.FormatInt(v.Int(), 10), "!!int")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalar(strconv.FormatUint(v.Uint(), 10), "!!int")
	}
	panic(fmt.Sprintf("importer: cannot encode %s", v.Type())) // programmer error: config has a new kind
}

func (e *encoder) fields(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if strings.Contains(opts, "inline") {
			e.fields(n, fv, path)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if strings.Contains(opts, "omitempty") && isEmpty(fv) {
			continue
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		val := e.value(fv, p)
		if (val.Kind == yaml.MappingNode) && len(val.Content) == 0 && strings.Contains(opts, "omitempty") {
			continue
		}
		key := scalar(name, "!!str")
		key.HeadComment = e.headFor(p)
		if lc := e.lineFor(p); lc != "" {
			if val.Kind == yaml.ScalarNode {
				val.LineComment = lc
			} else {
				key.LineComment = lc
			}
		}
		n.Content = append(n.Content, key, val)
	}
}

// render writes the commented YAML document.
func (m *mapper) render(sources []string) ([]byte, error) {
	e := &encoder{head: m.head, line: m.line, used: map[string]bool{}}
	root := e.value(reflect.ValueOf(m.cfg).Elem(), "")
	header := []string{
		"lbd.yaml written by `lbctl import` from:",
	}
	for _, s := range sources {
		header = append(header, "  "+s)
	}
	header = append(header,
		"Names, order and comments follow the source. NOTE lines say how lbd covers a",
		"directive another way; WARNING lines name what was left out. Check the result",
		"with `lbd check`. Durations are Go durations (5s, 1m, 500ms).",
	)
	// Comments whose node was not written (an empty section, a
	// file-level note) go to the header, in a stable order.
	var rest []string
	for _, p := range sortedKeys(m.head) {
		if p == "#tail" || e.used[p] {
			continue
		}
		rest = append(rest, m.head[p]...)
	}
	if len(rest) > 0 {
		header = append(header, "")
		header = append(header, rest...)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	doc.HeadComment = commentText(header)
	if t := m.head["#tail"]; len(t) > 0 {
		doc.FootComment = commentText(t)
	}
	if len(root.Content) == 0 {
		root.Style = yaml.FlowStyle
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
