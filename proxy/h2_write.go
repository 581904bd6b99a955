package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"runtime"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Frame kinds queued to the writer goroutine.
const (
	fSettings uint8 = iota
	fSettingsAck
	fPing
	fWindow
	fRst
	fGoAway
	fHeaders
	fData
)

// h2frame is one frame for the writer goroutine. The writer owns the
// Framer's write side and the HPACK encoder, so that frames (and header
// blocks, whose encoding depends on order) go out in queue order.
type h2frame struct {
	typ      uint8
	sid      uint32
	end      bool
	hasTable bool
	n        uint32
	code     http2.ErrCode
	ping     [8]byte
	data     []byte
	fields   []hpack.HeaderField
	done     chan error // nil: nobody waits
	// owner: a stream's last frame, queued without waiting (post); the
	// writer lets go of the stream once the frame is written.
	owner *h2stream
}

var errH2Closed = errors.New("h2: connection closed")

// send queues a frame without waiting for it to be written.
func (hc *h2conn) send(f *h2frame) {
	select {
	case hc.wch <- f:
	case <-hc.quit:
	}
}

// post queues a frame without waiting; false: the connection closed
// first and the writer never saw it.
func (hc *h2conn) post(f *h2frame) bool {
	select {
	case hc.wch <- f:
		return true
	case <-hc.quit:
		return false
	}
}

// sendWait queues a frame and waits until the writer has taken its bytes.
func (hc *h2conn) sendWait(f *h2frame) error {
	if f.done == nil {
		f.done = make(chan error, 1)
	}
	select {
	case hc.wch <- f:
	case <-hc.quit:
		return errH2Closed
	}
	select {
	case err := <-f.done:
		return err
	case <-hc.quit:
		return errH2Closed
	}
}

// writer writes queued frames. It flushes once per batch: when the queue
// is empty it yields once (runtime.Gosched) so that the streams made ready
// together (a netpoll round of server answers) queue their frames first,
// and flushes when a yield brought nothing more. The frames of several
// streams then leave in one TLS record and one write(2). A frame's waiter
// is answered once its bytes are in the buffer, before the flush.
func (hc *h2conn) writer() {
	defer hc.wwg.Done()
	bw := bufio.NewWriterSize(hc.c, 16<<10)
	fr := http2.NewFramer(bw, nil)
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	enc.SetMaxDynamicTableSizeLimit(h2TableSize)
	var err error
	var dl time.Time
	timeout := hc.fe.client
	fail := func() {
		// The writer never waits for mu (whose holders may be queueing
		// frames): waiters are woken aside.
		hc.wdead.Store(true)
		hc.c.Close()
		go func() {
			hc.mu.Lock()
			hc.cond.Broadcast()
			hc.mu.Unlock()
		}()
	}
	for {
		var f *h2frame
		select {
		case f = <-hc.wch:
		case <-hc.quit:
			hc.drainPosted(fr, enc, &hbuf, bw, err)
			return
		}
		yielded := false
		for f != nil {
			if err == nil {
				dl = armDeadline(hc.c.SetWriteDeadline, dl, timeout)
				if err = hc.writeFrame(fr, enc, &hbuf, f); err != nil {
					fail()
				}
			}
			if f.owner != nil {
				f.owner.unref()
			} else if f.done != nil {
				f.done <- err
			}
			f = nil
			select {
			case f = <-hc.wch:
				continue
			default:
			}
			if yielded || err != nil || bw.Buffered() == 0 {
				break
			}
			// Let the other ready goroutines queue their frames, once
			// per frame written since the last yield.
			runtime.Gosched()
			select {
			case f = <-hc.wch:
			default:
				yielded = true
			}
		}
		if err == nil && bw.Buffered() > 0 {
			if err = bw.Flush(); err != nil {
				fail()
			}
		}
	}
}

// drainPosted writes the streams' posted last frames still queued when
// the connection ends (their streams have ended: nobody else will), at
// most the queue's capacity; other frames' senders have left.
func (hc *h2conn) drainPosted(fr *http2.Framer, enc *hpack.Encoder, hbuf *bytes.Buffer, bw *bufio.Writer, err error) {
	armed := false
	for {
		select {
		case f := <-hc.wch:
			if f.owner == nil {
				continue
			}
			if err == nil && !armed {
				armed = true
				err = hc.c.SetWriteDeadline(time.Now().Add(hc.fe.client))
			}
			if err == nil {
				err = hc.writeFrame(fr, enc, hbuf, f)
			}
			f.owner.unref()
		default:
			if err == nil && bw.Buffered() > 0 {
				bw.Flush()
			}
			return
		}
	}
}

func (hc *h2conn) writeFrame(fr *http2.Framer, enc *hpack.Encoder, hbuf *bytes.Buffer, f *h2frame) error {
	switch f.typ {
	case fSettings:
		return fr.WriteSettings(
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: h2MaxStreams},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList},
			http2.Setting{ID: http2.SettingHeaderTableSize, Val: h2TableSize},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
			http2.Setting{ID: http2.SettingMaxFrameSize, Val: h2MaxFrame},
		)
	case fSettingsAck:
		if f.hasTable {
			enc.SetMaxDynamicTableSizeLimit(min(f.n, h2TableSize))
		}
		return fr.WriteSettingsAck()
	case fPing:
		return fr.WritePing(true, f.ping)
	case fWindow:
		return fr.WriteWindowUpdate(f.sid, f.n)
	case fRst:
		return fr.WriteRSTStream(f.sid, f.code)
	case fGoAway:
		return fr.WriteGoAway(f.sid, f.code, nil)
	case fData:
		return fr.WriteData(f.sid, f.end, f.data)
	case fHeaders:
		hbuf.Reset()
		for _, hf := range f.fields {
			enc.WriteField(hf)
		}
		block := hbuf.Bytes()
		max := int(hc.peerFrame.Load())
		// With data: HEADERS then one DATA frame carrying END_STREAM
		// (a whole small response in one write).
		end := f.end && len(f.data) == 0
		first := true
		for first || len(block) > 0 {
			frag := block
			if len(frag) > max {
				frag = frag[:max]
			}
			block = block[len(frag):]
			var err error
			if first {
				err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.sid, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
				first = false
			} else {
				err = fr.WriteContinuation(f.sid, len(block) == 0, frag)
			}
			if err != nil {
				return err
			}
		}
		if len(f.data) > 0 {
			return fr.WriteData(f.sid, f.end, f.data)
		}
	}
	return nil
}
