package pair

import (
	"sync"
	"testing"
)

// Concurrent first calls (lbd starting while `lbctl pair init` runs) must
// all end up with the same identity: the one on disk.
func TestLoadOrCreateIdentityConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	fps := make([]string, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id, c, err := LoadOrCreateIdentity(dir, "node")
			if err != nil {
				t.Error(err)
				return
			}
			fps[i], created[i] = id.Fingerprint, c
		}(i)
	}
	wg.Wait()
	disk, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	nCreated := 0
	for i := range fps {
		if fps[i] != disk.Fingerprint {
			t.Errorf("call %d got identity %s, the one on disk is %s", i, fps[i], disk.Fingerprint)
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d calls created an identity, want 1", nCreated)
	}
}
