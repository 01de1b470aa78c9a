#!/usr/bin/env bash
# make netns-test: several machines on this one, as root. Network namespaces
# with their own addresses on a bridge stand in for separate hosts:
#
#   spx-term   10.77.0.10  simulated Theta Terminal (one client address only)
#                          + spx terminal-proxy on :25580 (token)
#   spx-coord  10.77.0.20  spx coordinator: embedded NATS on :4222
#                          (user/password), web page and /metrics on :8080
#   spx-w1..3  10.77.0.31… spx fetcher + spx writer, through the proxy
#
# It shows that a worker host calling the terminal directly gets 476 while
# the proxy path works (and refuses the terminal's shutdown path), that NATS
# and the web page on a non-loopback address without credentials are
# refused, then processes days, cuts worker host w1's link
# mid-run (ip link set … down) and checks the run still completes and
# verifies. Namespaces, links and processes are removed on exit, even on
# failure. Exits non-zero on any failure.
#
#   sudo SPX_BIN=./bin/spx scripts/netns-test.sh [dates...]
set -euo pipefail

spx=$(readlink -f "${SPX_BIN:-./bin/spx}")
[ -x "$spx" ] || { echo "netns-test: $spx is not an executable: run make build or set SPX_BIN" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "netns-test: needs root (ip netns)" >&2; exit 1; }
if ! command -v ip >/dev/null; then
  apt-get install -y iproute2 >/dev/null
fi
command -v curl >/dev/null || { echo "netns-test: needs curl" >&2; exit 1; }
dates=("$@")
[ ${#dates[@]} -gt 0 ] || dates=(2024-03-12 2024-03-13 2024-03-14)

work=$(mktemp -d /tmp/spx-netns.XXXXXX)
chmod 755 "$work"
br=spxbr0
hosts=(term coord w1 w2 w3)
declare -A addr=([term]=10.77.0.10 [coord]=10.77.0.20 [w1]=10.77.0.31 [w2]=10.77.0.32 [w3]=10.77.0.33)
pids=()
failed=1

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do # up to 10 s to stop cleanly, then SIGKILL
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for h in "${hosts[@]}"; do ip netns del "spx-$h" 2>/dev/null; ip link del "v-$h" 2>/dev/null; done
  ip link del "$br" 2>/dev/null
  if [ "$failed" = 1 ]; then
    log "logs of each host follow"
    for f in "$work"/*.log; do echo "----- $f"; tail -n 25 "$f"; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# on HOST CMD...: run in HOST's namespace with its own hostname (UTS), so
# workers report distinct hosts.
on() {
  local h=$1; shift
  ip netns exec "spx-$h" unshare --uts sh -c 'hostname "$0"; exec "$@"' "$h" "$@"
}

# bg HOST NAME CMD...: start a long-running process on HOST, output in
# NAME.log. A simple command (no function, no subshell) so that $! is the
# process itself: ip netns exec, unshare and sh all exec into it.
bg() {
  local h=$1 name=$2; shift 2
  ip netns exec "spx-$h" unshare --uts sh -c 'hostname "$0"; exec "$@"' "$h" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() { # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "$what did not come up within ${secs}s"
}

log "network: bridge $br, hosts ${hosts[*]}"
ip link add "$br" type bridge
ip link set "$br" up
for h in "${hosts[@]}"; do
  ip netns add "spx-$h"
  ip link add "v-$h" type veth peer name eth0 netns "spx-$h"
  ip link set "v-$h" master "$br" up
  ip -n "spx-$h" addr add "${addr[$h]}/24" dev eth0
  ip -n "spx-$h" link set eth0 up
  ip -n "spx-$h" link set lo up
done

token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" >"$work/proxy.token"
chmod 600 "$work/proxy.token"

# ---- terminal host: simulated terminal (only its first client address is
# served) and the proxy in front of it.
bg term sim "$spx" sim-terminal --v3-addr 0.0.0.0:25503 --v2-addr "" --one-client-ip \
  --max-expirations 6 --max-strikes 20 --latency 300ms --concurrency 4
wait_for "simulated terminal" 20 on term curl -fsS http://127.0.0.1:25503/v3/terminal/mdds/status
bg term proxy "$spx" terminal-proxy --listen "${addr[term]}:25580" --terminal http://127.0.0.1:25503 --token-file "$work/proxy.token"
wait_for "terminal proxy" 20 on w1 curl -fsS "http://${addr[term]}:25580/proxy/health"

expirations="/v3/option/list/expirations?symbol=SPXW"
direct=$(on w2 curl -s -o /dev/null -w '%{http_code}' "http://${addr[term]}:25503$expirations")
log "w2 -> terminal directly:  HTTP $direct"
[ "$direct" = 476 ] || fail "a second host calling the terminal directly got $direct, want 476 WRONG_IP"
proxied=$(on w2 curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://${addr[term]}:25580$expirations")
log "w2 -> terminal via proxy: HTTP $proxied"
[ "$proxied" = 200 ] || fail "the proxy path answered $proxied, want 200"
noauth=$(on w2 curl -s -o /dev/null -w '%{http_code}' "http://${addr[term]}:25580$expirations")
log "w2 -> proxy without token: HTTP $noauth"
[ "$noauth" = 401 ] || fail "the proxy without a token answered $noauth, want 401"
shutdown=$(on w2 curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://${addr[term]}:25580/v3/terminal/shutdown")
log "w2 -> proxy /v3/terminal/shutdown: HTTP $shutdown"
[ "$shutdown" = 403 ] || fail "the proxy forwarded the terminal's shutdown path ($shutdown), want 403"

# ---- coordinator host.
mkdir -p "$work/coord" "$work/shared"
chmod 755 "$work/shared"
common=(--terminal "http://${addr[term]}:25580" --output-dir "$work/shared/parquet")
export SPX_THETADATA_TOKEN=$token SPX_THETADATA_API=v3 SPX_THETADATA_CONCURRENCY=4

if on coord env -u SPX_NATS_USER -u SPX_NATS_PASSWORD "$spx" coordinator --db "$work/coord/refuse.db" \
  --listen "${addr[coord]}:4222" --http "" "${common[@]}" >"$work/refusal.log" 2>&1; then
  fail "the coordinator listened on ${addr[coord]} without NATS credentials"
fi
grep -q "refusing" "$work/refusal.log" || fail "no refusal message: $(cat "$work/refusal.log")"
log "coordinator without NATS credentials on ${addr[coord]}: refused ($(grep -o 'refusing[^:]*' "$work/refusal.log" | head -1))"

if on coord "$spx" coordinator --db "$work/coord/refuse.db" --listen 127.0.0.1:0 --monitor "" \
  --http "${addr[coord]}:8080" "${common[@]}" >"$work/refusal-web.log" 2>&1; then
  fail "the coordinator served the web page on ${addr[coord]} without web credentials"
fi
grep -q "web.user and web.password" "$work/refusal-web.log" || fail "no web refusal message: $(cat "$work/refusal-web.log")"
log "coordinator without web credentials on ${addr[coord]}:8080: refused"

export SPX_NATS_USER=spx SPX_NATS_PASSWORD SPX_WEB_USER=ops SPX_WEB_PASSWORD
SPX_NATS_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
SPX_WEB_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
web=(-u "ops:$SPX_WEB_PASSWORD")
nats="nats://${addr[coord]}:4222"
bg coord coordinator env SPX_NATS_STORE_DIR="$work/coord/nats" "$spx" coordinator --db "$work/coord/spx.db" \
  --listen "${addr[coord]}:4222" --monitor 127.0.0.1:8222 --http "${addr[coord]}:8080" "${common[@]}"
wait_for "coordinator web page" 30 on w1 curl -fsS "${web[@]}" "http://${addr[coord]}:8080/metrics"
noauth=$(on w1 curl -s -o /dev/null -w '%{http_code}' "http://${addr[coord]}:8080/metrics")
[ "$noauth" = 401 ] || fail "/metrics without the web credentials answered $noauth, want 401"

# ---- worker hosts: fetchers and writers join the coordinator's NATS; the
# archive directory stands for shared storage (NFS, say).
for w in w1 w2 w3; do
  mkdir -p "$work/$w"
  bg "$w" "$w-fetcher" "$spx" fetcher --nats "$nats" --db "$work/$w/spx.db" --fetchers 2 "${common[@]}"
  bg "$w" "$w-writer" env SPX_PROCESSING_TEMP_DIR="$work/$w/temp" "$spx" writer --nats "$nats" --db "$work/$w/spx.db" --writers 1 "${common[@]}"
done

workers_up() {
  [ "$(on w1 curl -fsS "${web[@]}" "http://${addr[coord]}:8080/metrics" | awk '/^spx_workers_connected/ {s+=$2} END {print s+0}')" -ge 6 ]
}
wait_for "six worker processes" 30 workers_up
log "workers connected:"
on coord "$spx" status --nats "$nats" --db "$work/coord/spx.db" --format table | sed -n '/workers:/,/recent errors/p' | sed '$d'

# ---- the run: process the days from the coordinator host; cut w1 once
# files are being written.
log "processing ${dates[*]}"
ip netns exec spx-coord "$spx" process-range "${dates[0]}" "${dates[-1]}" --nats "$nats" --db "$work/coord/spx.db" "${common[@]}" \
  >"$work/process.log" 2>&1 &
proc=$!
pids+=($proc)
written() { on w2 curl -fsS "${web[@]}" "http://${addr[coord]}:8080/metrics" | awk -F' ' '/^spx_jobs_total\{outcome="written"\}/ {print $2}'; }
for _ in $(seq 1 300); do
  n=$(written || true)
  [ "${n:-0}" -ge 3 ] && break
  kill -0 "$proc" 2>/dev/null || fail "spx process-range ended early: $(tail -n 5 "$work/process.log")"
  sleep 0.2
done
[ "${n:-0}" -ge 3 ] || fail "no files written within a minute"
log "cutting worker host w1's link after $n files written (ip link set eth0 down in spx-w1)"
ip -n spx-w1 link set eth0 down

if ! wait "$proc"; then
  fail "the run did not complete after losing w1: $(tail -n 20 "$work/process.log")"
fi
log "run completed after losing w1:"
tail -n 8 "$work/process.log" | sed 's/^/    /'

on coord "$spx" status --nats "$nats" --db "$work/coord/spx.db" --format table | sed 's/^/    /'
on coord "$spx" verify --nats "$nats" --db "$work/coord/spx.db" --output-dir "$work/shared/parquet" --format table >"$work/verify.log" 2>&1 ||
  fail "verify failed: $(tail -n 20 "$work/verify.log")"
log "verify: $(tail -n 1 "$work/verify.log")"
fails=$(on w2 curl -fsS "${web[@]}" "http://${addr[coord]}:8080/metrics" | grep -E '^spx_(jobs_total|rows_written_total|workers_connected)' || true)
log "metrics after the run:"
printf '%s\n' "$fails" | sed 's/^/    /'
failed=0
log "PASS"
