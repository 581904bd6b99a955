#!/usr/bin/env bash
# make demo-acme: the pair gets its certificate from a private ACME CA.
# Builds, inside throw-away network namespaces never connected to the
# host's network:
#
#   client 10.10.0.50 ──┐
#   lb1    10.10.0.10 ──┤  bridge   VIP 10.10.0.100 (VRRP VRID 51)
#   lb2    10.10.0.20 ──┤  (own     web01 10.10.0.11, web02 10.10.0.12,
#   ca     10.10.0.30 ──┤  netns)   static01 10.10.0.13
#   web01/web02/static ─┘
#
# The CA is Pebble (Let's Encrypt's test CA, Debian's pebble package) with
# pebble-challtestsrv as its DNS server, which answers www.lbd.test with
# the VIP: nothing asks a public CA. Both lbd nodes run packaging/lbd.yaml
# (lb2 with priority 100) with its *:443 bind enabled on the ACME
# certificate directory, a tls.acme section for www.lbd.test and a pair
# section, paired with lbctl pair init/join. The demo shows one order for
# the pair, `lbctl acme status` on both nodes, the same certificate served
# on each node's own address (openssl s_client), a verified HTTPS request
# through the VIP, then `lbctl acme renew` on the backup: both nodes serve
# the new certificate (lbctl cert list shows its ACME state). It cleans everything up (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "make demo-acme needs root (network namespaces): sudo make demo-acme" >&2; exit 1; }
for t in pebble pebble-challtestsrv openssl curl; do
	command -v "$t" >/dev/null || { echo "$t not found: apt-get install pebble openssl curl (make demo-acme installs them)" >&2; exit 1; }
done

. scripts/lab.sh
P="lbacme$(printf '%04x' $((RANDOM % 65536)))"   # unique per run
RUN=$(mktemp -d "/tmp/$P.XXXX")
NAME=www.lbd.test
VIP=10.10.0.100
declare -A ADDR=([lb1]=10.10.0.10 [lb2]=10.10.0.20 [ca]=10.10.0.30 [web01]=10.10.0.11 [web02]=10.10.0.12 [static01]=10.10.0.13 [client]=10.10.0.50)
PIDS=()
declare -A T   # pair tokens

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	lab_down
	rm -rf "$RUN"
	echo "demo: cleaned up namespaces $P-*"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
inns() { lab_exec "$@"; }
lbctl() { local n=$1; shift; bin/lbctl --socket "$RUN/$n.sock" "$@"; }
orders() { grep -c "Added order" "$RUN/pebble.log" || true; }
# served NODE-ADDRESS: the SHA-256 fingerprint of the certificate lbd
# serves for $NAME on that address (openssl s_client from the client).
served() {
	inns client openssl s_client -connect "$1:443" -servername "$NAME" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//' || true
}
file_fp() { openssl x509 -in "$RUN/$1/acme/certs/$NAME.pem" -noout -fingerprint -sha256 | sed 's/.*=//'; }

say "building the lab ($P-*: lb1 lb2 ca web01 web02 static01 client)"
go build -o "$RUN/demo" ./internal/lab/demo
lab_up "$P" lb1=10.10.0.10/24 lb2=10.10.0.20/24 ca=10.10.0.30/24 web01=10.10.0.11/24 web02=10.10.0.12/24 static01=10.10.0.13/24 client=10.10.0.50/24

say "starting the CA in the ca namespace: Pebble on 10.10.0.30:14000, its DNS answers every name with the VIP"
# Pebble's own HTTPS certificate, signed by a throw-away root that lbd
# trusts through tls.acme.ca.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=lbd demo-acme root" -keyout "$RUN/root.key" -out "$RUN/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${ADDR[ca]}" \
	-keyout "$RUN/pebble.key" -out "$RUN/pebble.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "${ADDR[ca]}" >"$RUN/pebble.ext"
openssl x509 -req -in "$RUN/pebble.csr" -CA "$RUN/ca.pem" -CAkey "$RUN/root.key" -CAcreateserial -days 1 \
	-extfile "$RUN/pebble.ext" -out "$RUN/pebble.crt" 2>/dev/null
cat >"$RUN/pebble.json" <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$RUN/pebble.crt", "privateKey": "$RUN/pebble.key",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
inns ca pebble-challtestsrv -dns01 127.0.0.1:8053 -http01 "" -https01 "" -tlsalpn01 "" \
	-management 127.0.0.1:8055 -defaultIPv4 "$VIP" -defaultIPv6 "" >"$RUN/challtestsrv.log" 2>&1 &
PIDS+=($!)
inns ca env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
	pebble -config "$RUN/pebble.json" -dnsserver 127.0.0.1:8053 >"$RUN/pebble.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q "ACME directory available" "$RUN/pebble.log" && break; sleep 0.1; done
grep -q "ACME directory available" "$RUN/pebble.log" || { cat "$RUN/pebble.log"; echo "demo: pebble did not start" >&2; exit 1; }
echo "ACME directory: https://${ADDR[ca]}:14000/dir ($NAME resolves to $VIP for the CA)"

say "starting three demo backends"
for n in web01 web02 static01; do
	ip netns exec "$P-$n" "$RUN/demo" backend -listen "${ADDR[$n]}:80" -name "$n" >"$RUN/$n.log" 2>&1 &
	PIDS+=($!)
done

say "starting lbd on lb1 (priority 101) and lb2 (priority 100): packaging/lbd.yaml, *:443 on the ACME directory, tls.acme"
for n in lb1 lb2; do
	prio=101; [ "$n" = lb2 ] && prio=100
	sed -e "s/priority: 101/priority: $prio/" \
	    -e "s#/run/lbd/lbd.sock#$RUN/$n.sock#" \
	    -e 's|^      #- address: "\*:443"|      - address: "*:443"|' \
	    -e 's|^      #  ssl:|        ssl:|' \
	    -e "s|^      #    crt: \[/etc/lbd/certs/\].*|          crt: [$RUN/$n/acme/certs/]   # tls.acme writes here|" \
	    -e 's|^      #    alpn:|          alpn:|' \
	    packaging/lbd.yaml >"$RUN/$n.yaml"
	cat >>"$RUN/$n.yaml" <<YAML
pair:
  listen: ${ADDR[$n]}:7946
  state_dir: $RUN/$n
  interval: 200ms
tls:
  acme:
    email: ops@lbd.test
    directory: https://${ADDR[ca]}:14000/dir
    ca: $RUN/ca.pem           # the demo CA's root (Pebble's HTTPS)
    certificates:
      - [$NAME]
YAML
	out=$(bin/lbd check -c "$RUN/$n.yaml" 2>&1) || { echo "$out"; exit 1; }
	[ "$n" = lb1 ] && { echo "lbd check: $out" | grep -i "acme" || true; }
	# The node's pair identity, made before lbd starts: lbd and lbctl
	# pair init must not both create it at the same moment.
	T[$n]=$(bin/lbctl pair init --config "$RUN/$n.yaml" 2>/dev/null)
	ip netns exec "$P-$n" bin/lbd run -c "$RUN/$n.yaml" >"$RUN/$n.log" 2>&1 &  # $! is lbd itself
	PIDS+=($!)
done
echo "the tls.acme section of both nodes:"
sed -n '/^tls:/,$p' "$RUN/lb1.yaml"

say "pairing the nodes: lbctl pair init (before the start, above), lbctl pair join on lb2 and on lb1"
bin/lbctl pair join --config "$RUN/lb2.yaml" "${T[lb1]}" >/dev/null 2>&1
bin/lbctl pair join --config "$RUN/lb1.yaml" "${T[lb2]}" >/dev/null 2>&1
echo "paired"

say "waiting for the pair's certificate (one node orders under the pair lock, the other receives it)"
START=$(date +%s.%N)
for _ in $(seq 1 600); do
	[ -f "$RUN/lb1/acme/certs/$NAME.pem" ] && [ -f "$RUN/lb2/acme/certs/$NAME.pem" ] && break
	sleep 0.1
done
if ! [ -f "$RUN/lb1/acme/certs/$NAME.pem" ] || ! [ -f "$RUN/lb2/acme/certs/$NAME.pem" ]; then
	echo "demo: no certificate on both nodes after 60 s" >&2
	lbctl lb1 acme status || true
	tail -n 20 "$RUN/lb1.log" "$RUN/lb2.log" "$RUN/pebble.log"
	exit 1
fi
echo "both nodes hold $NAME.pem $(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s after pairing; the CA saw $(orders) order(s)"

say "lbctl acme status on lb1"
lbctl lb1 acme status
say "lbctl acme status on lb2"
lbctl lb2 acme status

# same_on_both WANT: wait until both nodes serve the certificate whose
# fingerprint is WANT (the reload ACME triggers loads it), then print.
same_on_both() {
	local want=$1 a b
	for _ in $(seq 1 100); do
		a=$(served "${ADDR[lb1]}"); b=$(served "${ADDR[lb2]}")
		[ "$a" = "$want" ] && [ "$b" = "$want" ] && break
		sleep 0.1
	done
	echo "lb1 ${ADDR[lb1]}:443  sha256 $a"
	echo "lb2 ${ADDR[lb2]}:443  sha256 $b"
	if [ "$a" = "$want" ] && [ "$b" = "$want" ]; then
		echo "both nodes serve the same certificate"
	else
		echo "demo: WARNING: the nodes do not both serve sha256 $want"
	fi
}

say "the certificate each node serves on its own address (openssl s_client from the client namespace)"
FP1=$(file_fp lb1)
same_on_both "$FP1"
openssl x509 -in "$RUN/lb1/acme/certs/$NAME.pem" -noout -subject -issuer -enddate -ext subjectAltName 2>/dev/null | grep -v '^X509v3'

say "a verified HTTPS request through the VIP (curl trusting the demo CA's issuing root)"
inns ca curl -skS https://127.0.0.1:15000/roots/0 >"$RUN/issuer-root.pem"
inns client curl -sS --cacert "$RUN/issuer-root.pem" --resolve "$NAME:443:$VIP" -o /dev/null \
	-w "https://$NAME/ via $VIP: HTTP %{http_code}, certificate verified (%{ssl_verify_result} = ok)\n" "https://$NAME/"

say "lbctl acme renew $NAME on lb2 (the backup): it takes the pair lock, the CA validates through the VIP (lb1)"
lbctl lb2 acme renew "$NAME"
FP2=$(file_fp lb2)
[ "$FP2" != "$FP1" ] && echo "new certificate: sha256 $FP2" || echo "demo: WARNING: the certificate did not change"
same_on_both "$FP2"
echo "the CA saw $(orders) orders in all (the first certificate and the renewal)"

say "lbctl cert list on lb2: the TLS bind's certificate with its ACME state"
lbctl lb2 cert list
