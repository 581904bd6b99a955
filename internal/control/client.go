package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultSocket is where lbd listens unless global.control_socket says otherwise.
const DefaultSocket = "/run/lbd/lbd.sock"

// ErrDaemonDown means nothing answers on the control socket.
var ErrDaemonDown = errors.New("lbd is not running")

// Client talks to a running lbd over its control socket.
type Client struct {
	// Socket is the unix socket path; empty means /run/lbd/lbd.sock.
	Socket string
	// Timeout bounds each call; zero means 10s.
	Timeout time.Duration

	hc *http.Client
}

func (c *Client) http() *http.Client {
	if c.hc == nil {
		sock := c.socket()
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			DisableKeepAlives: true,
		}}
	}
	return c.hc
}

func (c *Client) socket() string {
	if c.Socket == "" {
		return DefaultSocket
	}
	return c.Socket
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lbd"+path, rd)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return fmt.Errorf("%w (cannot connect to %s: %v)", ErrDaemonDown, c.socket(), ne.Err)
		}
		return fmt.Errorf("calling lbd at %s: %w", c.socket(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading reply from %s: %w", c.socket(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("lbd answered %s", resp.Status)
		}
		if resp.StatusCode == http.StatusNotFound {
			return &NotFoundError{Msg: eb.Error}
		}
		return errors.New(eb.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decoding reply: %w", err)
		}
	}
	return nil
}

// Status fetches the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Certs lists the certificates the TLS binds serve.
func (c *Client) Certs(ctx context.Context) ([]CertStatus, error) {
	var out []CertStatus
	if err := c.do(ctx, http.MethodGet, "/v1/certs", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Reload asks the daemon to reload its config file.
func (c *Client) Reload(ctx context.Context) (*ReloadResult, error) {
	var r ReloadResult
	if err := c.do(ctx, http.MethodPost, "/v1/reload", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Upgrade asks the daemon to replace itself with the installed binary.
func (c *Client) Upgrade(ctx context.Context) (*UpgradeResult, error) {
	var r UpgradeResult
	if err := c.do(ctx, http.MethodPost, "/v1/upgrade", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SetServerState sets a server's admin state: ready, drain or maint.
func (c *Client) SetServerState(ctx context.Context, backend, server, state string) error {
	return c.do(ctx, http.MethodPost, "/v1/servers/"+url.PathEscape(backend)+"/"+url.PathEscape(server)+"/state", ServerStateRequest{State: state}, nil)
}

// SetServerWeight sets a server's weight.
func (c *Client) SetServerWeight(ctx context.Context, backend, server string, weight int) error {
	return c.do(ctx, http.MethodPost, "/v1/servers/"+url.PathEscape(backend)+"/"+url.PathEscape(server)+"/weight", ServerWeightRequest{Weight: weight}, nil)
}

// VRRPHandover makes a master step down (all instances when instance is "").
func (c *Client) VRRPHandover(ctx context.Context, instance string) error {
	return c.do(ctx, http.MethodPost, "/v1/vrrp/handover?instance="+url.QueryEscape(instance), nil, nil)
}

// VRRPResume ends a handover.
func (c *Client) VRRPResume(ctx context.Context, instance string) error {
	return c.do(ctx, http.MethodPost, "/v1/vrrp/resume?instance="+url.QueryEscape(instance), nil, nil)
}
