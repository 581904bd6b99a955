package pair

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestStickRoute: updates reach the peer's Stick callback from the pinned
// peer; a message the callback refuses is answered 400 and counted as
// bad_message; a peer without the callback answers as an older lbd would.
func TestStickRoute(t *testing.T) {
	var got []byte
	recv := func(o *Options) {
		o.Stick = func(data []byte) (StickResult, error) {
			if !bytes.HasPrefix(data, []byte("LBS1")) {
				return StickResult{}, errors.New("malformed stick-table message")
			}
			got = append([]byte(nil), data...)
			return StickResult{Received: 3, Unknown: []string{"x"}, UnknownTable: 1}, nil
		}
	}
	a, b := newLink(t, "a", &fakeNode{}, nil), newLink(t, "b", &fakeNode{}, recv)
	start(t, a, b)
	pin(t, a, b.id.Fingerprint, b.Addr())
	pin(t, b, a.id.Fingerprint, a.Addr())
	ctx := context.Background()
	waitFor(t, 3*time.Second, "link up", func() bool { return a.Status().Link == "up" })
	res, err := a.SendStick(ctx, []byte("LBS1\x00"))
	if err != nil || res.Received != 3 || res.UnknownTable != 1 || len(res.Unknown) != 1 || string(got) != "LBS1\x00" {
		t.Fatalf("send: %+v %v (got %q)", res, err, got)
	}
	if _, err := a.SendStick(ctx, []byte("garbage")); err == nil {
		t.Fatal("a malformed message was accepted")
	}
	if n := b.Status().Refused["bad_message"]; n != 1 {
		t.Fatalf("bad_message refusals = %d, want 1", n)
	}
	// The other way: a has no Stick callback (an lbd without the route).
	if _, err := b.SendStick(ctx, []byte("LBS1\x00")); !Unsupported(err) {
		t.Fatalf("peer without stick updates: %v", err)
	}
}
