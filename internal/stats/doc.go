// Package stats serves lbd's statistics page as HAProxy's `stats enable`
// configures it: an HTML dashboard (VRRP state on top, then one table per
// frontend/backend with a row per server coloured by state) and the `;csv`
// export in HAProxy's `show stat` column order, so tools written for HAProxy
// (prometheus haproxy_exporter, scripts) keep working. Basic authentication
// compares user and password in constant time. The page has no external
// assets and works offline.
package stats
