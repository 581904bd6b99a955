#!/bin/sh
# lbd package: before files are unpacked.
#   rpm %pre:    $1 = 1 (install) or 2+ (upgrade)
#   deb preinst: $1 = install | upgrade OLDVER | abort-upgrade NEWVER
# Creates the lbd system user and group when missing. Never fails the
# transaction: a missing user only means files are owned by root for now.

case "$1" in
abort-upgrade) exit 0 ;;
esac

if command -v systemd-sysusers >/dev/null 2>&1; then
	# The sysusers.d file is not unpacked yet: feed the same line on stdin.
	systemd-sysusers --replace=/usr/lib/sysusers.d/lbd.conf - <<'SYSUSERS' >/dev/null 2>&1 || :
u lbd - "lbd load balancer daemon" /var/lib/lbd /sbin/nologin
SYSUSERS
fi

# Fallback (no systemd-sysusers, or it failed): shadow-utils.
if ! getent group lbd >/dev/null 2>&1; then
	groupadd -r lbd >/dev/null 2>&1 || :
fi
if ! getent passwd lbd >/dev/null 2>&1; then
	useradd -r -g lbd -d /var/lib/lbd -M -s /sbin/nologin \
		-c "lbd load balancer daemon" lbd >/dev/null 2>&1 || :
fi
exit 0
