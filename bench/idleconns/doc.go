// Command idleconns opens N keep-alive HTTP/1.1 connections to a proxy,
// sends one request on each, reads the response, and then holds the
// connections idle so bench/run.sh can read the proxy's RSS. It prints
// "ready N" once every connection has its response, and exits on SIGTERM,
// or SIGINT, or after -hold. With -burst it opens every connection first
// and then sends all the first requests at the same moment, the traffic
// spike of bench/run.sh case (d') burst.
package main
