package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// NodeLocalKeys are the config keys that belong to one node of a pair and
// are never compared, pushed or overwritten by the peer (docs/pair.md,
// docs/config.md#node-local-keys). Everything else is the shared part. A
// path ending in a section name covers the whole section; "[]" stands for
// every VRRP instance (matched between the nodes by name).
var NodeLocalKeys = []string{
	"global.control_socket",
	"sysctl",
	"vrrp.instances[].interface",
	"vrrp.instances[].priority",
	"vrrp.instances[].unicast_src",
	"vrrp.instances[].unicast_peers",
	"pair",
}

// instanceLocal are the node-local keys of a VRRP instance.
var instanceLocal = map[string]bool{"interface": true, "priority": true, "unicast_src": true, "unicast_peers": true}

// topLocal are the node-local top-level sections; globalLocal the
// node-local keys of global.
var (
	topLocal    = map[string]bool{"sysctl": true, "pair": true}
	globalLocal = map[string]bool{"control_socket": true}
)

// IsNodeLocal reports whether a key path (as in NodeLocalKeys, with or
// without an instance index) is node-local.
func IsNodeLocal(path string) bool {
	for _, k := range NodeLocalKeys {
		if path == k || strings.HasPrefix(path, k+".") {
			return true
		}
		if p, leaf, ok := strings.Cut(k, "[]."); ok && strings.HasPrefix(path, p+"[") {
			rest := path[strings.IndexByte(path, ']')+1:]
			if rest == "."+leaf || strings.HasPrefix(rest, "."+leaf+".") {
				return true
			}
		}
	}
	return false
}

// SharedPart returns the shared part of a config file: the file without
// its node-local keys, re-encoded (comments kept, 2-space indent). Two
// nodes whose files differ only in node-local keys, layout or key order
// inside the removed keys have the same shared part.
func SharedPart(name string, data []byte) ([]byte, error) {
	root, err := parseDoc(name, data)
	if err != nil {
		return nil, err
	}
	if _, err := splitLocal(root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return encodeDoc(root)
}

// SharedHash is the SHA-256 of SharedPart ("" when the file does not
// parse).
func SharedHash(name string, data []byte) string {
	s, err := SharedPart(name, data)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(s)
	return hex.EncodeToString(sum[:])
}

// MergeShared returns the shared part from the peer completed with this
// node's node-local keys taken from own (this node's file). An instance
// present in shared but not in own gets no local keys (validation then
// names what it lacks); an instance only in own is dropped with its keys.
func MergeShared(shared, own []byte, ownName string) ([]byte, error) {
	sroot, err := parseDoc("pushed config", shared)
	if err != nil {
		return nil, err
	}
	if _, err := splitLocal(sroot); err != nil { // a shared part has none: drop any
		return nil, fmt.Errorf("pushed config: %w", err)
	}
	oroot, err := parseDoc(ownName, own)
	if err != nil {
		return nil, err
	}
	loc, err := splitLocal(oroot)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ownName, err)
	}
	top := topNode(sroot)
	if top == nil {
		top = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		sroot.Kind, sroot.Content = yaml.DocumentNode, []*yaml.Node{top}
	}
	if len(loc.global) > 0 {
		g := mapValue(top, "global")
		if g == nil {
			g = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "global"}, g)
		}
		if g.Kind == yaml.MappingNode {
			g.Content = append(g.Content, loc.global...)
		}
	}
	if insts := instancesNode(top); insts != nil {
		for _, in := range insts.Content {
			if in.Kind != yaml.MappingNode {
				continue
			}
			name := scalarValue(mapValue(in, "name"))
			kv := loc.instances[name]
			if len(kv) == 0 {
				continue
			}
			// After the name key, so the file reads naturally.
			at := 0
			for i := 0; i+1 < len(in.Content); i += 2 {
				if in.Content[i].Value == "name" {
					at = i + 2
				}
			}
			in.Content = append(in.Content[:at], append(append([]*yaml.Node{}, kv...), in.Content[at:]...)...)
		}
	}
	top.Content = append(top.Content, loc.top...)
	return encodeDoc(sroot)
}

// localPart holds the node-local key/value node pairs removed from a file.
type localPart struct {
	top       []*yaml.Node
	global    []*yaml.Node
	instances map[string][]*yaml.Node
}

// splitLocal removes the node-local keys from root and returns them.
func splitLocal(root *yaml.Node) (*localPart, error) {
	loc := &localPart{instances: map[string][]*yaml.Node{}}
	top := topNode(root)
	if top == nil {
		return loc, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the file must be a YAML mapping")
	}
	var err error
	if loc.top, err = removeKeys(top, topLocal, ""); err != nil {
		return nil, err
	}
	if g := mapValue(top, "global"); g != nil && g.Kind == yaml.MappingNode {
		if loc.global, err = removeKeys(g, globalLocal, "global."); err != nil {
			return nil, err
		}
	}
	if insts := instancesNode(top); insts != nil {
		for i, in := range insts.Content {
			if in.Kind != yaml.MappingNode {
				continue
			}
			kv, err := removeKeys(in, instanceLocal, fmt.Sprintf("vrrp.instances[%d].", i))
			if err != nil {
				return nil, err
			}
			if len(kv) > 0 {
				loc.instances[scalarValue(mapValue(in, "name"))] = kv
			}
		}
	}
	return loc, nil
}

// removeKeys removes the keys in set from mapping m and returns them as
// key/value pairs. A removed value that carries an anchor is an error: an
// alias elsewhere would dangle.
func removeKeys(m *yaml.Node, set map[string]bool, prefix string) ([]*yaml.Node, error) {
	var out, keep []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && set[k.Value] {
			if hasAnchor(v) {
				return nil, fmt.Errorf("line %d: %s%s: a node-local key cannot carry a YAML anchor (&name)", k.Line, prefix, k.Value)
			}
			out = append(out, k, v)
			continue
		}
		keep = append(keep, k, v)
	}
	m.Content = keep
	return out, nil
}

func hasAnchor(n *yaml.Node) bool {
	if n == nil {
		return false
	}
	if n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAnchor(c) {
			return true
		}
	}
	return false
}

func instancesNode(top *yaml.Node) *yaml.Node {
	v := mapValue(top, "vrrp")
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	in := mapValue(v, "instances")
	if in == nil || in.Kind != yaml.SequenceNode {
		return nil
	}
	return in
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func parseDoc(name string, data []byte) (*yaml.Node, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(name, err)}}
	}
	return &root, nil
}

func encodeDoc(root *yaml.Node) ([]byte, error) {
	if root.Kind == 0 { // empty file
		return nil, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return b.Bytes(), nil
}
