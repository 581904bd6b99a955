#!/bin/sh
# lbd package: after files are removed.
#   rpm %postun: $1 = 0 (erase) or 1+ (upgrade: runs after the new %post)
#   deb postrm:  $1 = remove | purge | upgrade NEWVER | abort-install ...
# The lbd user is kept (files it owned may remain, as with other daemons).

systemctl daemon-reload >/dev/null 2>&1 || :
case "$1" in
[1-9] | [1-9][0-9]*)
	# rpm upgrade: the new binary and unit are in place.
	# Only if it was running. First a binary upgrade: the new lbd takes the
	# listening sockets and the VRRP instance over from the running one (a
	# master stays master, the VIP never moves) and the old one drains.
	# If that fails: restart, where SIGTERM hands the VIP to the peer with
	# VRRP priority 0 first; unless the new version rejects the config,
	# then the old process keeps serving and the admin is told.
	if systemctl is-active --quiet lbd.service; then
		if lbctl upgrade >/dev/null 2>&1; then
			:
		elif lbd check -c /etc/lbd/lbd.yaml >/dev/null 2>&1; then
			systemctl try-restart lbd.service >/dev/null 2>&1 || :
		else
			echo "lbd: the new version rejects /etc/lbd/lbd.yaml; the old process keeps serving. Fix it (lbd check -c /etc/lbd/lbd.yaml), then: systemctl restart lbd" >&2
		fi
	fi
	;;
esac
exit 0
