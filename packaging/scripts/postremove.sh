#!/bin/sh
# lbd package: after files are removed.
#   rpm %postun: $1 = 0 (erase) or 1+ (upgrade: runs after the new %post)
#   deb postrm:  $1 = remove | purge | upgrade NEWVER | abort-install ...
# The lbd user is kept (files it owned may remain, as with other daemons).

systemctl daemon-reload >/dev/null 2>&1 || :
case "$1" in
[1-9] | [1-9][0-9]*)
	# rpm upgrade: the new binary and unit are in place. Restart only if it
	# was running; the old process hands the VIP over before it exits.
	systemctl try-restart lbd.service >/dev/null 2>&1 || :
	;;
esac
exit 0
