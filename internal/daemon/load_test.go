package daemon

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// load runs workers client loops against url until stopped: each loop is
// bounded to 50000 requests and 10 s, as every load loop in lbd's tests.
type load struct {
	total, failed atomic.Int64
	firstErr      atomic.Value
	stopc         chan struct{}
	wg            sync.WaitGroup
}

func startLoad(url string, workers int) *load {
	l := &load{stopc: make(chan struct{})}
	hc := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			deadline := time.Now().Add(10 * time.Second)
			for n := 0; n < 50000 && time.Now().Before(deadline); n++ {
				select {
				case <-l.stopc:
					return
				default:
				}
				l.total.Add(1)
				resp, err := hc.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	return l
}

// stop ends the loops and returns the request count, the failures and the
// first error seen.
func (l *load) stop() (total, failed int64, firstErr any) {
	close(l.stopc)
	l.wg.Wait()
	return l.total.Load(), l.failed.Load(), l.firstErr.Load()
}
