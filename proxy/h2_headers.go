package proxy

import (
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2block is one header block (HEADERS and its CONTINUATIONs) as the
// connection's HPACK decoder emits it, reused from block to block (reader
// goroutine only). It checks the fields as x/net's ReadMetaHeaders does
// (valid names and values, pseudo-header fields first and not repeated,
// SETTINGS_MAX_HEADER_LIST_SIZE) without its per-block allocations.
type h2block struct {
	active bool // a block is open: CONTINUATIONs follow
	sid    uint32
	ended  bool   // END_STREAM on the HEADERS frame
	prio   bool   // the HEADERS frame carried a priority
	dep    uint32 // its stream dependency
	// fields: the decoded fields, the npseudo pseudo-header fields
	// first. The strings are the decoder's (they do not point into a
	// reused buffer).
	fields  []hpack.HeaderField
	npseudo int
	// truncated: the list exceeded the header list size (the request
	// is answered 431); remain and trailRemain are what is left of it.
	truncated   bool
	remain      uint32
	trailRemain uint32
	sawRegular  bool
	invalid     bool // a field is malformed: the stream is reset
}

// emit is the HPACK decoder's emit function.
func (hc *h2conn) emit(f hpack.HeaderField) {
	b := &hc.blk
	if !httpguts.ValidHeaderFieldValue(f.Value) {
		b.invalid = true
	}
	if strings.HasPrefix(f.Name, ":") {
		if b.sawRegular {
			b.invalid = true
		}
	} else {
		b.sawRegular = true
		if !validH2FieldName(f.Name) {
			b.invalid = true
		}
	}
	if b.invalid {
		hc.hdec.SetEmitEnabled(false)
		return
	}
	remain := &b.remain
	var size uint32
	if f.Name == "trailer" {
		// Counted as x/net does: each listed name as a field of its own.
		remain = &b.trailRemain
		n := strings.Count(f.Value, ",") + 1
		size = uint32(len(f.Value)-n+1) + uint32(n)*hpack.HeaderField{}.Size()
	} else {
		size = f.Size()
	}
	if size > *remain {
		hc.hdec.SetEmitEnabled(false)
		b.truncated = true
		b.remain, b.trailRemain = 0, 0
		return
	}
	*remain -= size
	if !b.sawRegular {
		b.npseudo++
	}
	b.fields = append(b.fields, f)
}

// validH2FieldName: a token without upper-case letters (RFC 9113 8.2.1).
func validH2FieldName(v string) bool {
	if len(v) == 0 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !httpguts.IsTokenRune(rune(c)) || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// onHeaderFrag decodes one fragment of a header block: the HEADERS frame's
// (hf set) or a CONTINUATION's. The last one hands the block to
// onHeaders. Like x/net's ReadMetaHeaders: a fragment far larger than the
// list size left, or any fragment after a malformed field, ends the
// connection (PROTOCOL_ERROR); an HPACK error ends it with
// COMPRESSION_ERROR; malformed fields in a complete block reset the stream.
func (hc *h2conn) onHeaderFrag(sid uint32, frag []byte, endHeaders bool, hf *http2.HeadersFrame) error {
	b := &hc.blk
	if hf != nil {
		*b = h2block{
			sid: sid, ended: hf.StreamEnded(), prio: hf.HasPriority(), dep: hf.Priority.StreamDep,
			fields: b.fields[:0], remain: h2MaxHeaderList, trailRemain: h2MaxHeaderList,
		}
		hc.hdec.SetEmitEnabled(true)
	}
	if int64(len(frag)) > 2*int64(b.remain+b.trailRemain) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if b.invalid {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if _, err := hc.hdec.Write(frag); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	b.active = !endHeaders
	if b.active {
		return nil
	}
	err := hc.hdec.Close()
	if err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if b.invalid || !b.checkPseudos() {
		hc.fe.st.errReq.Add(1)
		return hc.streamError(sid, http2.ErrCodeProtocol)
	}
	err = hc.onHeaders(b)
	// The fields' strings are not kept past the block.
	clear(b.fields)
	return err
}

// checkPseudos: the pseudo-header fields are known ones, not repeated,
// not a mix of request and response fields.
func (b *h2block) checkPseudos() bool {
	var req, resp bool
	pf := b.fields[:b.npseudo]
	for i, f := range pf {
		switch f.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			req = true
		case ":status":
			resp = true
		default:
			return false
		}
		for _, g := range pf[:i] {
			if f.Name == g.Name {
				return false
			}
		}
	}
	return !(req && resp)
}
