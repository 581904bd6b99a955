// Command kaspread is a bounded keep-alive load generator that reports how
// fairly a proxy serves many client connections: each of -c connections
// sends GET / in a closed loop for -d, one request at a time, and the
// command prints the latency percentiles of all requests, of the first
// request of each connection (the connection ramp) and of the later ones,
// and the spread of the per-connection request counts. A connection that
// fails (error, timeout, non-200, close) stops and is counted as failed:
// nothing is retried. Loopback addresses only. Used to find where the tail
// of bench/run.sh case (b1k) comes from (bench/README.md, issue 20).
package main
