package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	yaml "go.yaml.in/yaml/v3"
)

// DefaultPath is where lbd looks for its configuration.
const DefaultPath = "/etc/lbd/lbd.yaml"

// maxFileSize bounds what Load reads: a config larger than this is a mistake.
const maxFileSize = 4 << 20

// Problem is one thing wrong with a config file.
type Problem struct {
	File string
	Line int    // 0 when unknown
	Col  int    // column inside a rule or condition; 0 when unknown
	Path string // key path, e.g. frontends[0].bind[1]; empty for the whole file
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one file, sorted by line.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes, completes and validates the config at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := readBounded(f, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	return LoadBytes(path, data)
}

func readBounded(f *os.File, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file is larger than %d bytes", limit)
	}
	return data, nil
}

// LoadBytes is Load for a config already in memory; name is used in errors.
func LoadBytes(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(name, err)}}
	}
	idx := buildLineIndex(&root)
	if n := topNode(&root); n != nil && n.Kind != yaml.MappingNode {
		return nil, &Error{Problems: []Problem{{File: name, Line: n.Line, Msg: "the file must be a YAML mapping (global:, frontends:, ...)"}}}
	}

	v := viper.NewWithOptions(viper.KeyDelimiter("::"))
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &Error{Problems: []Problem{{File: name, Msg: fmt.Sprintf("parsing YAML: %v", err)}}}
	}
	cfg := &Config{}
	err := v.UnmarshalExact(cfg, func(dc *mapstructure.DecoderConfig) {
		dc.WeaklyTypedInput = false
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(strictDurationHook, bindStringHook)
	})
	var probs []Problem
	if err != nil {
		probs = append(probs, decodeProblems(name, idx, err)...)
	}
	cfg.File = name
	fillEmptyMaps(topNode(&root), reflect.ValueOf(cfg).Elem())
	// Semantic checks run on whatever decoded, so one pass reports type
	// errors and, say, a dangling use_backend together. A key that failed
	// to decode holds its zero value: problems at or under it are noise.
	c := &checker{file: name, idx: idx, cfg: cfg}
	c.checkDurations(reflect.ValueOf(cfg).Elem(), "")
	cfg.normalize()
	c.validate(cfg)
	cfg.Warnings = c.warns
	for _, p := range c.probs {
		if !underAny(p.Path, probs) {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return nil, &Error{Problems: probs}
	}
	return cfg, nil
}

// underAny reports whether path is one of the decode problems' paths, or
// lies under or above one of them.
func underAny(path string, decoded []Problem) bool {
	for _, d := range decoded {
		if d.Path == "" {
			continue
		}
		if path == d.Path || strings.HasPrefix(path, d.Path+".") || strings.HasPrefix(path, d.Path+"[") ||
			strings.HasPrefix(d.Path, path+".") || strings.HasPrefix(d.Path, path+"[") {
			return true
		}
	}
	return false
}

// fillEmptyMaps gives an empty mapping its meaning: outside lists viper
// keeps only keys with leaf values, so `defaults: {options: {forwardfor:
// {}}}` decoded as a nil pointer (off) instead of "on, with the defaults"
// (inside frontends/backends lists it already decoded as on). It walks the
// YAML tree along v, through aliases and merge keys, and allocates each nil
// pointer-to-struct field written as {}.
func fillEmptyMaps(n *yaml.Node, v reflect.Value) {
	n = unalias(n)
	if n == nil {
		return
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			if n.Kind != yaml.MappingNode || len(n.Content) != 0 || v.Type().Elem().Kind() != reflect.Struct || !v.CanSet() {
				return
			}
			v.Set(reflect.New(v.Type().Elem()))
			return
		}
		v = v.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && v.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Tag == "!!merge" {
				// `<<: *base` or `<<: [*a, *b]`: their keys are v's.
				m := unalias(n.Content[i+1])
				if m != nil && m.Kind == yaml.SequenceNode {
					for _, e := range m.Content {
						fillEmptyMaps(e, v)
					}
				} else {
					fillEmptyMaps(m, v)
				}
				continue
			}
			if f, ok := fieldByKey(v, n.Content[i].Value); ok {
				fillEmptyMaps(n.Content[i+1], f)
			}
		}
	case n.Kind == yaml.SequenceNode && v.Kind() == reflect.Slice:
		for i := 0; i < len(n.Content) && i < v.Len(); i++ {
			fillEmptyMaps(n.Content[i], v.Index(i))
		}
	}
}

// unalias follows YAML aliases to the node they name.
func unalias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// fieldByKey finds the field of struct v decoded from key (its mapstructure
// name), looking into squashed embedded structs.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ",")
		switch {
		case tag == "" && strings.Contains(t.Field(i).Tag.Get("mapstructure"), "squash"):
			if f, ok := fieldByKey(v.Field(i), key); ok {
				return f, true
			}
		case tag != "" && strings.EqualFold(tag, key):
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func topNode(root *yaml.Node) *yaml.Node {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		return root.Content[0]
	}
	return nil
}

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

func yamlProblem(name string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return Problem{File: name, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{File: name, Msg: "YAML syntax: " + msg}
}

var durationType = reflect.TypeOf(time.Duration(0))

var bindType = reflect.TypeOf(Bind{})

// bindStringHook lets a bind entry be a plain address string.
func bindStringHook(from, to reflect.Type, data any) (any, error) {
	if to != bindType {
		return data, nil
	}
	if s, ok := data.(string); ok {
		return map[string]any{"address": s}, nil
	}
	return data, nil
}

// strictDurationHook accepts durations only as strings with a unit, so that
// HAProxy's unit-less milliseconds (inter 2000) can't silently become 2µs.
func strictDurationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		v, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q (use a unit: 500ms, 10s, 1m)", d)
		}
		return v, nil
	case time.Duration:
		return d, nil
	default:
		return nil, fmt.Errorf("duration %v has no unit (write \"%vms\" or \"%vs\")", data, data, data)
	}
}

// decodeProblems flattens mapstructure's joined errors into Problems.
func decodeProblems(file string, idx lineIndex, err error) []Problem {
	var out []Problem
	var walk func(err error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		de, isDE := err.(*mapstructure.DecodeError)
		if w, ok := err.(interface{ Unwrap() error }); ok && !isDE {
			walk(w.Unwrap())
			return
		}
		if isDE {
			inner := de.Unwrap()
			if _, ok := inner.(interface{ Unwrap() []error }); ok {
				walk(inner)
				return
			}
			var nested *mapstructure.DecodeError
			if errors.As(inner, &nested) {
				walk(inner)
				return
			}
			out = append(out, fieldProblem(file, idx, de.Name(), inner)...)
			return
		}
		out = append(out, Problem{File: file, Msg: err.Error()})
	}
	walk(err)
	return out
}

func fieldProblem(file string, idx lineIndex, name string, err error) []Problem {
	path := name
	if strings.Contains(path, "config.") { // unnamed embedded struct: the top level
		path = ""
	}
	msg := err.Error()
	if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
		var out []Problem
		for _, k := range strings.Split(keys, ", ") {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = append(out, Problem{File: file, Line: idx.line(p), Path: p, Msg: fmt.Sprintf("unknown key %q", k)})
		}
		return out
	}
	var ute *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ute) {
		msg = fmt.Sprintf("wrong type: want %s, got %s", typeWord(ute.Expected.Type()), valueWord(ute.Value))
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("wrong type: want %s: %v", typeWord(pe.Expected.Type()), pe.Err)
	}
	msg = strings.TrimPrefix(msg, "error decoding '': ")
	return []Problem{{File: file, Line: idx.line(path), Path: path, Msg: msg}}
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		if t == durationType {
			return "a duration like \"10s\""
		}
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Pointer:
		return typeWord(t.Elem())
	}
	return t.String()
}

func valueWord(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case nil:
		return "nothing"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}
