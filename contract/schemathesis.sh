#!/usr/bin/env bash
# Fuzzes a live didpool against its own /openapi.json with schemathesis, one run per face (each with
# its own credentials), bounded in examples and time; then `didpool check` on the database.
# Usage: contract/schemathesis.sh PATH/TO/didpool PATH/TO/schemathesis [SECONDS_PER_FACE [DATABASE_URL]]
# (the database is a fresh SQLite file unless a URL of an empty database is given)
set -euo pipefail
bin=$1 st=$2 budget=${3:-40}
tmp=$(mktemp -d)
db=${4:-"sqlite://$tmp/fuzz.db"}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
token="fuzz-admin-token"
# `serve` creates no database: `migrate` does. The fuzzer sends requests without credentials on
# purpose, far more than the failed-authentication limit allows one address, so limits are off.
# It also subscribes webhook endpoints at made-up addresses: this node delivers nothing, so no test
# traffic leaves loopback.
"$bin" --database-url "$db" migrate >/dev/null
DIDPOOL_LOG=error "$bin" --database-url "$db" serve --listen "127.0.0.1:$port" --admin-token "$token" \
  --rate-limit 0 --auth-failures-per-minute 0 --no-webhook-delivery >"$tmp/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

admin=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
acct=$(curl -sf -X POST "$base/admin/v1/accounts" "${admin[@]}" \
  -d '{"name": "Fuzz", "role": "admin", "balance": 1000000, "currency": "INR"}')
auth_id=$(field auth_id <<<"$acct")
auth_token=$(field auth_token <<<"$acct")
agni=$(curl -sf -X POST "$base/admin/v1/accounts/$auth_id/keys" "${admin[@]}" -d '{"kind": "agni"}' | field key)
diga=$(curl -sf -X POST "$base/admin/v1/accounts/$auth_id/keys" "${admin[@]}" -d '{"kind": "diga"}' | field key)
{
  echo "e164,country,region,setup_fee,monthly_fee,currency"
  for i in $(seq 0 49); do printf '+9180411%05d,IN,Karnataka,1,1,INR\n' "$i"; done
  for i in $(seq 0 19); do printf '+1415555%04d,US,California,1,1,INR\n' "$i"; done
} | curl -sf -X POST "$base/admin/v1/inventory" -H "Authorization: Bearer $token" \
  -H 'Content-Type: text/csv' --data-binary @- >/dev/null

# The Vobiz paths take the caller's own account id; the purchase with too low a balance answers
# the 500 Vobiz documents (it is in the document), so not_a_server_error is off for that one
# operation only.
cat >"$tmp/schemathesis.toml" <<TOML
[parameters]
"path.auth_id" = "$auth_id"

[[operations]]
include-operation-id = "vobiz_purchase"
checks.not_a_server_error.enabled = false

[[operations]]
include-operation-id = "vobiz_purchase_lc"
checks.not_a_server_error.enabled = false
TOML

# What the document promises: no 5xx, and every status, content type, header and body as
# documented. (Schemathesis' stricter heuristics, e.g. that any schema-valid request is accepted,
# do not hold for these APIs: a path `{e164}` is any string in the document but must be a number.)
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
# One worker: Hypothesis describes each `.filter(lambda …)` by `ast.parse`-ing the lambda's
# module, and with two threads parsing at once CPython 3.11's AST constructor fails with
# "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905), which killed the
# coverage phase. The time budget, not the worker count, bounds the run.
status=0
run() {
  local tag=$1 phases=$2; shift 2
  echo "-- schemathesis: $tag"
  "$st" --config-file "$tmp/schemathesis.toml" run "$base/openapi.json" --url "$base" \
    --include-tag "$tag" --checks "$checks" --phases "$phases" --max-examples 25 --max-time "$budget" \
    --request-timeout 10 --workers 1 --generation-deterministic --suppress-health-check all \
    --no-color "$@" || status=1
}
# The stateful phase follows the document's links; the health routes have none.
all=examples,coverage,fuzzing,stateful
run vobiz "$all" -H "X-Auth-ID: $auth_id" -H "X-Auth-Token: $auth_token"
run agni "$all" -H "X-Api-Key: $agni"
run diga "$all" -H "Authorization: Bearer $diga"
run admin "$all" -H "Authorization: Bearer $token"
run health examples,coverage,fuzzing

kill "$pid"; wait "$pid" 2>/dev/null || true
trap - EXIT
echo "-- didpool check"
"$bin" --database-url "$db" check || status=1
[ "$status" -eq 0 ] || { echo "server log: $tmp/server.log"; tail -20 "$tmp/server.log"; }
exit "$status"
