package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Backend is what the daemon exposes to the control socket. Who identifies
// the caller ("uid=0 pid=1234") for the audit log.
type Backend interface {
	Status() Status
	Reload(ctx context.Context, who string) ReloadResult
	SetServerAdmin(backend, server, state, who string) error
	SetServerWeight(backend, server string, weight int, who string) error
	VRRPHandover(instance, who string) error
	VRRPResume(instance, who string) error
	// Upgrade starts the installed binary as a new process that takes the
	// listeners and VRRP instances over; this process then drains and exits.
	Upgrade(ctx context.Context, who string) UpgradeResult
}

// NotFoundError is returned by a Backend for unknown names; the client maps
// a 404 back to it so lbctl can list the valid names.
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string { return e.Msg }

// Listen opens the control socket at path with mode 0600. A stale socket
// file left by a crash is removed; if another process answers on it, Listen
// refuses to take it over.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating control socket directory: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use: another lbd is running", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale control socket %s: %w", path, err)
		}
	}
	// Create the socket with no group/other bits from the start.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("setting mode of control socket %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	return l, nil
}

type ctxKey struct{}

// Serve runs the API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, b Backend) error {
	srv := &http.Server{
		Handler:           Handler(b),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, peerString(c))
		},
	}
	// Serve returns as soon as Shutdown starts; the answers in flight (an
	// upgrade's, say) are written while Shutdown waits, so Serve returns
	// only after Shutdown has finished: the caller may exit then.
	shut := make(chan struct{})
	go func() {
		defer close(shut)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		<-shut
		return nil
	}
	return err
}

// PeerString names the process at the other end of a unix connection
// ("uid=0 pid=1234"), for audit logs; "unknown" if it cannot tell.
func PeerString(c net.Conn) string { return peerString(c) }

func peerString(c net.Conn) string {
	uc, ok := c.(syscall.Conn) // *net.UnixConn, or a wrapper that exposes it
	if !ok {
		return "unknown"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "unknown"
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cred == nil {
		return "unknown"
	}
	return fmt.Sprintf("uid=%d pid=%d", cred.Uid, cred.Pid)
}

func who(r *http.Request) string {
	if s, ok := r.Context().Value(ctxKey{}).(string); ok {
		return s
	}
	return "unknown"
}

// Handler returns the versioned route table.
func Handler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("GET /v1/certs", func(w http.ResponseWriter, r *http.Request) {
		certs := b.Status().Certificates
		if certs == nil {
			certs = []CertStatus{}
		}
		writeJSON(w, http.StatusOK, certs)
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		res := b.Reload(r.Context(), who(r))
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/upgrade", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Upgrade(r.Context(), who(r)))
	})
	mux.HandleFunc("POST /v1/servers/{backend}/{server}/state", func(w http.ResponseWriter, r *http.Request) {
		var req ServerStateRequest
		if !readJSON(w, r, &req) {
			return
		}
		changeServer(w, r, b, &req.State, nil, req.Local)
	})
	mux.HandleFunc("POST /v1/servers/{backend}/{server}/weight", func(w http.ResponseWriter, r *http.Request) {
		var req ServerWeightRequest
		if !readJSON(w, r, &req) {
			return
		}
		changeServer(w, r, b, nil, &req.Weight, req.Local)
	})
	mux.HandleFunc("POST /v1/vrrp/handover", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.VRRPHandover(r.URL.Query().Get("instance"), who(r)))
	})
	mux.HandleFunc("POST /v1/vrrp/resume", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.VRRPResume(r.URL.Query().Get("instance"), who(r)))
	})
	pairRoutes(mux, b)
	handleBGP(mux, b)
	acmeRoutes(mux, b)
	tableRoute(mux, b)
	return mux
}

// ServerStateRequest sets a server's admin state: "ready", "drain" or "maint".
type ServerStateRequest struct {
	State string `json:"state"`
	// Local: this node only, not the pair peer.
	Local bool `json:"local,omitempty"`
}

// ServerWeightRequest sets a server's weight (0..256).
type ServerWeightRequest struct {
	Weight int  `json:"weight"`
	Local  bool `json:"local,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, struct {
			OK bool `json:"ok"`
		}{true})
		return
	}
	code := http.StatusBadRequest
	var nf *NotFoundError
	if errors.As(err, &nf) {
		code = http.StatusNotFound
	}
	writeJSON(w, code, errorBody{Error: err.Error()})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid request body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
