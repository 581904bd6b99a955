// Command netpollorder prints, for several rounds, the order in which
// goroutines blocked reading sockets run once all their sockets became
// readable before the scheduler polled: "fifo" when every round ran them in
// the order the data was written, "lifo" when every round ran them in the
// reverse order, "mixed" otherwise. internal/build's TestNetpollFIFO runs it
// built with and without scripts/netpoll-fifo.sh's overlay.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var one = [1]byte{'x'}

const (
	conns  = 16
	rounds = 5
)

func main() {
	runtime.GOMAXPROCS(1)
	fifo, lifo := 0, 0
	for range rounds {
		order, err := round()
		if err != nil {
			fmt.Fprintln(os.Stderr, "netpollorder:", err)
			os.Exit(1)
		}
		asc, desc := true, true
		for i := range order {
			asc = asc && order[i] == i
			desc = desc && order[i] == conns-1-i
		}
		switch {
		case asc:
			fifo++
		case desc:
			lifo++
		}
	}
	switch {
	case fifo == rounds:
		fmt.Println("fifo")
	case lifo == rounds:
		fmt.Println("lifo")
	default:
		fmt.Printf("mixed fifo=%d lifo=%d of %d\n", fifo, lifo, rounds)
	}
}

// round parks one reader per socket pair, then writes to every pair in
// index order without yielding, and returns the order the readers ran in.
func round() ([]int, error) {
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
		wfds  []int
		files []*os.File
	)
	defer func() {
		for _, f := range files {
			f.Close()
		}
		for _, fd := range wfds {
			syscall.Close(fd)
		}
	}()
	for i := range conns {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("socketpair: %w", err)
		}
		f := os.NewFile(uintptr(fds[0]), fmt.Sprint("r", i)) // non-blocking: goes to the poller
		files = append(files, f)
		wfds = append(wfds, fds[1])
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			if _, err := f.Read(b[:]); err != nil {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}()
	}
	// Every reader must be parked in the poller before the first write. A
	// fixed sleep is not enough: if the OS stalls this thread while the
	// readers start, the sleep's timer readies main ahead of the readers
	// not yet run, whose reads then find data without the poller and
	// scramble the order (a loaded CI machine). So wait until the
	// goroutine dump shows all of them in "IO wait".
	if err := awaitIOWait(conns, 10*time.Second); err != nil {
		return nil, err
	}
	// A poll in the middle of the writes (sysmon's, after a preemption)
	// splits the batch in two; with the overlay each part runs in order and
	// the first before the second is polled, so the result stays "fifo"
	// (checked with a 30 ms busy loop after write 8: fifo every time, the
	// stock runtime "mixed").
	for _, fd := range wfds {
		// RawSyscall: no scheduler call between the writes.
		if _, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&one[0])), 1); e != 0 {
			return nil, fmt.Errorf("write: %w", e)
		}
	}
	wg.Wait()
	return order, nil
}

// awaitIOWait waits until n goroutines are parked in the network poller
// ("IO wait" in a goroutine dump), polling every millisecond up to limit.
func awaitIOWait(n int, limit time.Duration) error {
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(limit)
	for {
		k := runtime.Stack(buf, true)
		got := bytes.Count(buf[:k], []byte(" [IO wait"))
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d readers parked in the poller after %v", got, n, limit)
		}
		time.Sleep(time.Millisecond)
	}
}
