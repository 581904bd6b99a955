#!/usr/bin/env bash
# need.sh CMD:PACKAGE ... — install the Debian package for each missing command.
# Used by the Makefile so `make test`, `make demo` and `make bench` work on a
# fresh Debian/Ubuntu machine as root with no other step.
set -euo pipefail
missing=()
for spec in "$@"; do
	cmd=${spec%%:*}; pkg=${spec#*:}
	command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "need.sh: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
	exit 0
fi
echo "need.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
