package proxy

import (
	"testing"
	"time"
)

// TestAcceptFailures: a persistent accept error (EMFILE) backs off from 5
// ms to 1 s and logs one line a second with the failures since the last;
// a successful accept resets the wait.
func TestAcceptFailures(t *testing.T) {
	var f acceptFailures
	now := time.Unix(1000, 0)
	lines, total := 0, 0
	var waits []time.Duration
	var last time.Time
	for now.Before(time.Unix(1010, 0)) {
		w, n := f.failed(now)
		waits = append(waits, w)
		if n > 0 {
			if lines > 0 && now.Sub(last) < time.Second {
				t.Fatalf("two lines %v apart", now.Sub(last))
			}
			lines++
			total += n
			last = now
		}
		now = now.Add(w)
	}
	if waits[0] != acceptWaitMin || waits[1] != 2*acceptWaitMin || waits[len(waits)-1] != acceptWaitMax {
		t.Fatalf("waits %v", waits)
	}
	if lines < 5 || lines > 11 {
		t.Fatalf("%d lines in 10 s of failures, want about one a second", lines)
	}
	if total < len(waits)-len(waits)/4 || total > len(waits) {
		t.Fatalf("lines count %d failures of %d", total, len(waits))
	}
	f.wait = 0 // an accept succeeded
	if w, _ := f.failed(now.Add(10 * time.Millisecond)); w != acceptWaitMin {
		t.Fatalf("wait after a success: %v", w)
	}
}
