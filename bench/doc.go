// Package bench holds the lbd-versus-HAProxy benchmark driven by run.sh
// (`make bench`): the paired proxy configs under conf/ and their tests. The
// idleconns command measures memory per idle keep-alive connection.
package bench
