package config

// H2Part holds the HTTP/2 keys of a frontend or listen section (kept apart
// from the bind keys, which TLS extends).
type H2Part struct {
	// Proto "h2" makes every bind of the section speak cleartext HTTP/2
	// with prior knowledge (h2c, HAProxy's `bind ... proto h2`); empty
	// (default): HTTP/1.1. Needs mode http.
	Proto string `mapstructure:"proto" yaml:"proto,omitempty"`
}

// H2C reports whether the frontend's binds speak cleartext HTTP/2.
func (f *Frontend) H2C() bool { return f.Proto == "h2" }

func (c *checker) checkH2(f *Frontend) {
	switch f.Proto {
	case "":
	case "h2":
		if f.Mode == "tcp" {
			c.add(f.Source+".proto", "proto h2 needs mode http")
		}
	default:
		c.add(f.Source+".proto", "unknown proto %q (want h2, or nothing for HTTP/1.1)", f.Proto)
	}
}
