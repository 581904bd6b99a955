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
