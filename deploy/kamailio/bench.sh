#!/usr/bin/env bash
# Call setup through Kamailio: SIPp offers calls at a fixed rate to the shipped configuration
# (each INVITE asks didpool where the number goes; each call is reported back at its end), then
# to the same Kamailio with a static route (no didpool: the ceiling). Prints calls completed per
# second and the setup time (INVITE sent → 200 OK received) p50/p99 of both, and their ratios.
#
#   deploy/kamailio/bench.sh [--rate 100] [--calls 2000] [--didpool target/release/didpool]
#
# Loopback only, free ports, a temporary directory; bounded (SIPp's -timeout), and every process
# it starts is stopped on exit. Needs kamailio (+ kamailio-utils-modules, kamailio-json-modules),
# sipp (sip-tester), curl and jq.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rate=100
calls=2000
children=8
didpool="$root/target/release/didpool"
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --children) children=$2; shift 2 ;;
    --didpool) didpool=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in kamailio sipp curl jq; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "needs $tool" >&2; exit 2; }
done
[ -x "$didpool" ] || { echo "no didpool binary at $didpool (cargo build --release -p didpool)" >&2; exit 2; }
kamailio=$(command -v kamailio || echo /usr/sbin/kamailio)

dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# didpool, on a fresh SQLite database (full durability), with one routed number.
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
B="http://127.0.0.1:$http_port"
DIDPOOL_LOG=warn "$didpool" --database-url "sqlite://$dir/didpool.db" serve --listen "127.0.0.1:$http_port" \
  --admin-token bench >"$dir/didpool.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "$B/healthz" >/dev/null && break; sleep 0.1; done
ADM=(-H "Authorization: Bearer bench" -H "Content-Type: application/json")
acc=$(curl -sf -X POST "$B/admin/v1/accounts" "${ADM[@]}" -d '{"name": "bench edge", "balance": 100000}')
A=$(jq -r .auth_id <<<"$acc"); T=$(jq -r .auth_token <<<"$acc")
H=(-H "X-Auth-ID: $A" -H "X-Auth-Token: $T" -H "Content-Type: application/json")
key=$(curl -sf -X POST "$B/admin/v1/accounts/$A/keys" "${ADM[@]}" -d '{"kind": "edge"}' | jq -r .key)
number=+918041100001
printf 'e164,country,region,setup_fee,monthly_fee,currency\n%s,IN,Bangalore,1,2,INR\n' "$number" |
  curl -sf -X POST "$B/admin/v1/inventory" -H "Authorization: Bearer bench" -H 'Content-Type: text/csv' --data-binary @- >/dev/null
curl -sf -X POST "$B/api/v1/Account/$A/numbers/purchase-from-inventory" "${H[@]}" -d "{\"e164\": \"$number\"}" >/dev/null
uas_port=$(free_port)
trunk=$(curl -sf -X POST "$B/api/v1/Account/$A/trunks" "${H[@]}" \
  -d "{\"name\": \"bench\", \"inbound_destination\": \"127.0.0.1:$uas_port\"}" | jq -r .trunk_id)
curl -sf -X POST "$B/api/v1/Account/$A/numbers/%2B918041100001/assign" "${H[@]}" -d "{\"trunk_group_id\": \"$trunk\"}" >/dev/null

# The customer's trunk.
(cd "$dir" && exec sipp -sf "$here/sipp/uas.xml" -i 127.0.0.1 -p "$uas_port" -nostdin >/dev/null 2>&1) &
pids+=($!)

# One run: Kamailio with extra defines, SIPp at the fixed rate; prints "completed_cps p50 p99".
run() {
  local name=$1; shift
  local port; port=$(free_port)
  mkdir -p "$dir/$name"
  DIDPOOL_URL=$B DIDPOOL_EDGE_KEY=$key "$kamailio" -f "$here/kamailio.cfg" -DD -E -m 128 -M 16 \
    -A "LISTEN=udp:127.0.0.1:$port" -A "CHILDREN=$children" "$@" -Y "$dir/$name" -w "$dir/$name" \
    >"$dir/$name/kamailio.log" 2>&1 &
  local kam=$!
  pids+=("$kam")
  sleep 1
  local start end
  start=$(date +%s.%N)
  (cd "$dir/$name" && sipp "127.0.0.1:$port" -sf "$here/sipp/uac.xml" -s "$number" -i 127.0.0.1 \
    -p "$(free_port)" -r "$rate" -m "$calls" -l $((rate * 10)) -nostdin -timeout 300s \
    -trace_rtt -rtt_freq 1 -trace_stat -fd 1 >/dev/null 2>&1) || true
  end=$(date +%s.%N)
  kill -TERM "$kam" 2>/dev/null || true
  wait "$kam" 2>/dev/null || true
  local stat; stat=$(ls "$dir/$name"/uac_*_.csv 2>/dev/null | head -1 || true)
  [ -n "$stat" ] || stat=$(ls "$dir/$name"/uac_*.csv | grep -v rtt | head -1)
  local ok failed
  ok=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="SuccessfulCall(C)") c=i} END{print $c}' "$stat")
  failed=$(awk -F';' 'NR==1{for(i=1;i<=NF;i++) if($i=="FailedCall(C)") c=i} END{print $c}' "$stat")
  local times="$dir/$name/setup_ms"
  tail -n +2 "$dir/$name"/uac_*_rtt.csv | awk -F';' 'NF>=2 {print $2}' | sort -n >"$times"
  local n p50 p99
  n=$(wc -l <"$times")
  p50=$(awk -v n="$n" 'NR==int(n*0.50+0.5){print; exit}' "$times")
  p99=$(awk -v n="$n" 'NR==int(n*0.99+0.5){print; exit}' "$times")
  awk -v ok="$ok" -v failed="$failed" -v s="$start" -v e="$end" -v p50="$p50" -v p99="$p99" -v name="$name" \
    'BEGIN { printf "%-22s completed %6d  failed %4d  %8.1f calls/s  setup p50 %7.2f ms  p99 %7.2f ms\n", name, ok, failed, ok/(e-s), p50, p99 }' >&2
  awk -v ok="$ok" -v s="$start" -v e="$end" -v p99="$p99" -v p50="$p50" 'BEGIN { printf "%f %f %f\n", ok/(e-s), p50, p99 }'
}

echo "SIPp at $rate calls/s, $calls calls, Kamailio with $children UDP workers, didpool on SQLite (full durability)" >&2
read -r d_cps d_p50 d_p99 < <(run didpool)
read -r s_cps s_p50 s_p99 < <(run static -A "STATIC_ROUTE=\"sip:$number@127.0.0.1:$uas_port\"")
awk -v a="$d_cps" -v b="$s_cps" -v c="$d_p99" -v d="$s_p99" \
  'BEGIN { printf "ratio (didpool ÷ static): calls/s %.2f, setup p99 %.2f× the static route\n", a/b, c/d }' >&2
reports=$(sqlite3 "$dir/didpool.db" 'SELECT count(*) FROM calls' 2>/dev/null || echo "?")
echo "call records didpool took: $reports" >&2
