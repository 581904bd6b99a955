package pair

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// pathStick carries stick-table updates (docs/pair.md#stick-tables).
const pathStick = "/pair/v1/stick"

// MaxStickBody bounds the encoded updates of one message (the JSON
// message carries them in base64, within the 1 MiB request bound).
const MaxStickBody = 256 << 10

// StickResult is the receiver's answer to stick-table updates.
type StickResult struct {
	// Received: entries merged; UnknownTable: entries of tables the
	// receiver does not have (named in Unknown); Dropped: entries not
	// merged because every entry of the table was in use.
	Received     int      `json:"received"`
	UnknownTable int      `json:"unknown_table,omitempty"`
	Unknown      []string `json:"unknown,omitempty"`
	Dropped      int      `json:"dropped,omitempty"`
}

func (l *Link) serveStick(w http.ResponseWriter, r *http.Request) {
	m, ok := l.accept(w, r)
	if !ok {
		return
	}
	l.contact()
	if l.opts.Stick == nil {
		http.Error(w, "this node does not take stick-table updates", http.StatusNotFound)
		return
	}
	if len(m.Stick) == 0 || len(m.Stick) > MaxStickBody {
		l.refuse("bad_message", r.RemoteAddr, "stick message without updates or too large")
		http.Error(w, "bad stick message", http.StatusBadRequest)
		return
	}
	res, err := l.opts.Stick(m.Stick)
	if err != nil {
		l.refuse("bad_message", r.RemoteAddr, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.answer(w, &message{StickResult: &res})
}

// SendStick sends encoded stick-table updates to the peer.
func (l *Link) SendStick(ctx context.Context, data []byte) (*StickResult, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout+time.Second)
	defer cancel()
	ans, err := l.call(ctx, pathStick, &message{Stick: data}, maxPresenceBody)
	if err != nil {
		return nil, err
	}
	if ans.StickResult == nil {
		return nil, fmt.Errorf("peer %s answered without a stick result", l.peerAddr())
	}
	return ans.StickResult, nil
}
