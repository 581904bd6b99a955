// Package bgp announces service addresses (VIPs) to routers over BGP so that
// several lbd nodes can be active at once behind ECMP.
//
// The decision is pure and separate from the protocol: a Controller
// announces the configured prefixes if and only if tracking says this node
// can serve (Controller.SetHealth), no operator has withdrawn it
// (Controller.SetAdminWithdrawn) and it is not stopping (Controller.Drain).
// The BGP side effects sit behind the Speaker interface; NewGoBGP embeds
// GoBGP (github.com/osrg/gobgp/v4) and Fake records calls for tests.
//
// This package imports nothing from lbd's internal packages.
package bgp
