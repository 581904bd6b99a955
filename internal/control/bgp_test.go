package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeBGPBackend struct {
	fakeBackend
	withdrawn bool
}

func (f *fakeBGPBackend) BGPWithdraw(who string) error { f.withdrawn = true; return nil }
func (f *fakeBGPBackend) BGPResume(who string) error   { f.withdrawn = false; return nil }

func TestBGPRoutes(t *testing.T) {
	fb := &fakeBGPBackend{}
	h := Handler(fb)
	post := func(h http.Handler, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil).WithContext(context.Background()))
		return rec
	}
	if rec := post(h, "/v1/bgp/withdraw"); rec.Code != 200 || !fb.withdrawn {
		t.Fatalf("withdraw: %d %s", rec.Code, rec.Body)
	}
	if rec := post(h, "/v1/bgp/resume"); rec.Code != 200 || fb.withdrawn {
		t.Fatalf("resume: %d %s", rec.Code, rec.Body)
	}
	// A backend without BGP answers 404 with a reason.
	if rec := post(Handler(&fakeBackend{}), "/v1/bgp/withdraw"); rec.Code != 404 || !strings.Contains(rec.Body.String(), "bgp") {
		t.Fatalf("no bgp: %d %s", rec.Code, rec.Body)
	}
}
