#!/bin/sh
# lbd package: after files are unpacked.
#   rpm %post:     $1 = 1 (install) or 2+ (upgrade)
#   deb postinst:  $1 = configure [OLDVER] | abort-upgrade | abort-remove ...
# The unit is never started or enabled here: the admin edits
# /etc/lbd/lbd.yaml first, then runs `systemctl enable --now lbd`.
# systemctl fails harmlessly where systemd is not running (chroot, container).

action=other
case "$1" in
1) action=install ;;
[2-9] | [1-9][0-9]*) action=upgrade ;; # rpm: the restart happens in the old package's %postun
configure)
	if [ -z "$2" ]; then
		action=install
	else
		action=upgrade-deb # dpkg: conffiles are in place now, restart here
	fi
	;;
esac

systemctl daemon-reload >/dev/null 2>&1 || :
case "$action" in
install)
	# Honour a site preset policy (EL presets leave third-party units disabled).
	systemctl --no-reload preset lbd.service >/dev/null 2>&1 || :
	;;
upgrade-deb)
	# Only if it was running. lbd's SIGTERM path hands the VIP over with
	# VRRP priority 0 before exiting, so the peer keeps the service up.
	systemctl try-restart lbd.service >/dev/null 2>&1 || :
	;;
esac
exit 0
