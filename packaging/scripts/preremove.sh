#!/bin/sh
# lbd package: before files are removed.
#   rpm %preun:  $1 = 0 (erase) or 1+ (upgrade: the old package goes away)
#   deb prerm:   $1 = remove | upgrade NEWVER | deconfigure | failed-upgrade
# On erase, stop (VIP handed over with priority 0) and disable the unit.

case "$1" in
0 | remove | deconfigure)
	systemctl stop lbd.service >/dev/null 2>&1 || :
	systemctl --no-reload disable lbd.service >/dev/null 2>&1 || :
	;;
esac
exit 0
