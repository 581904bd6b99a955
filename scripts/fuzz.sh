#!/usr/bin/env bash
# fuzz.sh — run every Go fuzz target below the current directory for
# FUZZTIME each (default 20s), all of them even when one fails, and exit
# non-zero at the end only if a target really failed.
#
# A run that fails without writing a crasher ("Failing input written to" in
# its output, or a new file under testdata/fuzz/NAME) and whose output says
# "context deadline exceeded" is the known flake of Go's fuzz engine at the
# end of -fuzztime: it is run once more. If the rerun flakes the same way it
# is reported as a flake, not a failure. Any other failure (a crasher, a
# failing seed, a build error) counts.
#
#   FUZZTIME=2s scripts/fuzz.sh        GO=go1.23 scripts/fuzz.sh
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
log=$(mktemp -t lbd-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT

# corpus DIR NAME: the files of testdata/fuzz/NAME, one a line.
corpus() { find "$1/testdata/fuzz/$2" -type f 2>/dev/null | sort; }

# once DIR NAME: one fuzz run; sets res to ok, flake or fail.
once() {
	local before after rc
	before=$(corpus "$1" "$2")
	"$GO" test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" >"$log" 2>&1
	rc=$?
	cat "$log"
	after=$(corpus "$1" "$2")
	if [ "$rc" -eq 0 ]; then
		res=ok
	elif [ "$before" = "$after" ] && ! grep -q 'Failing input written to' "$log" &&
		grep -q 'context deadline exceeded' "$log"; then
		res=flake
	else
		res=fail
	fi
}

res="" pass=() flaky=() failed=()
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for name in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		echo "== $dir $name"
		once "$dir" "$name"
		if [ "$res" = flake ]; then
			echo "== $dir $name: \"context deadline exceeded\" without a crasher (Go fuzz engine flake); running it once more"
			once "$dir" "$name"
			[ "$res" = flake ] && flaky+=("$dir $name")
		fi
		case $res in
		ok) pass+=("$dir $name") ;;
		fail) failed+=("$dir $name") ;;
		esac
	done
done

echo "== fuzz summary (FUZZTIME=$FUZZTIME): ${#pass[@]} passed, ${#flaky[@]} flaked twice, ${#failed[@]} failed"
for t in "${flaky[@]}"; do echo "flake (no crasher): $t"; done
for t in "${failed[@]}"; do echo "FAIL: $t"; done
[ "${#failed[@]}" -eq 0 ]
