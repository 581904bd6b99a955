package config

import (
	"reflect"
	"strings"
)

// Keys lists every key path of lbd.yaml in document order, with lists
// written as "frontends[].bind". docs/config.md documents each one (a test
// keeps them in step).
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			if t == durationType {
				return
			}
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				name := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
				if name == "-" || !f.IsExported() {
					continue
				}
				if name == "" { // squashed
					walk(f.Type, path)
					continue
				}
				p := name
				if path != "" {
					p = path + "." + name
				}
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Slice {
					out = append(out, p)
					if ft.Elem().Kind() == reflect.Struct {
						walk(ft.Elem(), p+"[]")
					}
					continue
				}
				if ft.Kind() == reflect.Struct && ft != durationType {
					walk(ft, p)
					continue
				}
				out = append(out, p)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}
