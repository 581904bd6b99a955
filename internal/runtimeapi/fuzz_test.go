package runtimeapi

import (
	"bytes"
	"testing"
)

// FuzzCommandLine runs arbitrary lines through the parser and every command
// at admin level against the fake: no panic, and every answer is framed.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{"show stat", "show stat be 4 1 typed", "set weight be/web01 50%", "set server be/web02 state drain",
		"get weight a\\;b/c", "show servers state be;show info", "prompt", "help set", "set timeout cli 5s", "\x00\xff;;\\", "show stat -1 -1 -1 up no-maint"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) > MaxLine {
			return
		}
		s := &session{b: newFake(), level: LevelAdmin, idle: DefaultIdle, now: sessionNow}
		var out bytes.Buffer
		s.execLine(&out, line)
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			t.Fatalf("answer not ending in a newline: %q", out.Bytes())
		}
	})
}
