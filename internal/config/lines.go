package config

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// lineIndex maps key paths as mapstructure names them
// ("frontends[0].timeouts.client") to the line in the YAML source.
type lineIndex map[string]int

func buildLineIndex(root *yaml.Node) lineIndex {
	idx := lineIndex{}
	if root == nil {
		return idx
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	idx.walk("", n)
	return idx
}

func (idx lineIndex) walk(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := strings.ToLower(k.Value)
			if path != "" {
				p = path + "." + p
			}
			idx[p] = k.Line
			if v.Kind == yaml.ScalarNode {
				col := v.Column
				if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
					col++
				}
				idx[p+"#col"] = col
			}
			idx.walk(p, v)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			idx[p] = item.Line
			idx.walk(p, item)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			idx.walk(path, n.Alias)
		}
	}
}

// has reports whether the key path was written in the file.
func (idx lineIndex) has(path string) bool {
	_, ok := idx[path]
	return ok
}

// line returns the line of path, or of its nearest written parent; 0 if none.
func (idx lineIndex) line(path string) int {
	for path != "" {
		if l, ok := idx[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
