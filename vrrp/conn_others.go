//go:build !linux

package vrrp

import "net/netip"

// IPConn is a raw IP protocol 112 socket; only Linux has one.
type IPConn struct{}

// Dial returns ErrUnsupported outside Linux.
func Dial(cfg DialConfig) (*IPConn, error) { return nil, ErrUnsupported }

// ReadAdvert implements Conn.
func (c *IPConn) ReadAdvert(b []byte) (int, RecvInfo, error) { return 0, RecvInfo{}, ErrUnsupported }

// WriteAdvert implements Conn.
func (c *IPConn) WriteAdvert(b []byte, dst netip.Addr) error { return ErrUnsupported }

// LocalAddr implements Conn.
func (c *IPConn) LocalAddr() netip.Addr { return netip.Addr{} }

// Close implements Conn.
func (c *IPConn) Close() error { return nil }

var _ Conn = (*IPConn)(nil)
