// Command nfpm builds the lbd RPM and deb packages with the nFPM library
// (github.com/goreleaser/nfpm/v2, pinned v2.45.2); no rpmbuild or spec file.
//
//	go run ./packaging/nfpm -packager rpm -version 1.2.3 -out dist
//
// It packages the static binaries from bin/, the files under packaging/
// (systemd unit, sysusers.d and sysctl.d drop-ins, scriptlets, rsyslog and
// logrotate snippets, the example /etc/lbd/lbd.yaml) and, generated at
// package time by running the binaries, bash completion and gzipped man
// pages. With SOURCE_DATE_EPOCH set (default: the last git commit's time)
// the same inputs give byte-identical packages.
package main
