#!/usr/bin/env bash
# Load test of the Admin API on an existing (seeded) database.
#
#   cargo build --profile dist
#   bench/admin_api.sh sqlite://bench.db [seconds] [connections]
#
# Prints start-up time to ready, idle RSS, then requests/s and p50/p90/p99 latency (wrk)
# for: `list`, users(first: 50) with roles and groups; `search`, a keyword that is a
# prefix of a few users' emails (user<n>, n >= 1000); `broad`, a prefix of 1,111 to
# 111,111 emails (n < 1000); and RSS after the run. The load generator runs on the same
# machine as the server; PIN=1 pins the server to core 0 and wrk to core 1. REQUESTS="list"
# runs only the named requests (`executor`: the list resolved by async-graphql's executor
# instead of built plain, to compare the two in one run); PERF=/tmp/a records a perf profile of the server into
# /tmp/a.<request>.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-30}
conns=${3:-8}
users=${USERS:-1000000}
bin=${BIN:-target/dist/authgraph}
port=${PORT:-3900}
work=$(mktemp -d)
# The master key must stay the same across runs on one database (it encrypts its signing keys).
export AUTHGRAPH_DATABASE_URL="$url" AUTHGRAPH_MASTER_KEY_FILE="${MASTER_KEY_FILE:-bench/bench.master.key}" AUTHGRAPH_LOG__LEVEL=warn
export AUTHGRAPH_PUBLIC_URL="http://127.0.0.1:$port"

"$bin" migrate >/dev/null 2>&1
# The first start creates the signing key; the timed start below reuses it.
"$bin" admin-token >/dev/null
start=$(date +%s%N)
server_pin=() load=""
if [ "${PIN:-}" = 1 ]; then server_pin=(taskset -c 0) load="taskset -c 1"; fi
"${server_pin[@]}" "$bin" --listen "127.0.0.1:$port" serve 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }; sleep 0.005; done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 1
idle_kb=$(ps -o rss= -p $pid)
echo "startup_to_ready_ms=$ready_ms idle_rss_kb=$idle_kb"

# CPU ticks (user + system) of a process, and of all PostgreSQL processes together.
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
db_ticks() {
  local sum=0 p
  for p in $(pgrep -x postgres); do sum=$(( sum + $(ticks "$p" 2>/dev/null || echo 0) )); done
  echo "$sum"
}

TOKEN=$("$bin" admin-token --ttl 1h)
export TOKEN USERS=$users
list='{"query":"{ users(first: 50) { edges { node { id standardAttributes roles { edges { node { key } } } groups { edges { node { key } } } } } } }"}'
search='{"query":"{ users(first: 50, searchKeyword: \"KEYWORD\") { edges { node { id standardAttributes roles { edges { node { key } } } } } } }"}'
check=$(curl -s "http://127.0.0.1:$port/_api/admin/graphql" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$list" | head -c 120)
echo "sample: $check"
broad=$search
# The list again, with an inline fragment that makes async-graphql's executor resolve it
# field by field instead of building the plain page directly (graphql/plain.rs).
executor='{"query":"{ users(first: 50) { ... { slowPath: __typename } edges { node { id standardAttributes roles { edges { node { key } } } groups { edges { node { key } } } } } } }"}'
for name in ${REQUESTS:-list search broad}; do
  if [ "$name" = broad ]; then export KW_MIN=1 KW_MAX=999; else export KW_MIN=1000 KW_MAX=$users; fi
  if [ -n "${PERF:-}" ]; then perf record -q -F 1999 -g -p "$pid" -o "$PERF.$name" -- sleep "$secs" 2>/dev/null & fi
  s0=$(ticks "$pid") d0=$(db_ticks)
  out=$(BODY=${!name} $load wrk -t"$(( conns < 2 ? 1 : 2 ))" -c"$conns" -d"${secs}s" -s bench/graphql.lua "http://127.0.0.1:$port/_api/admin/graphql" | grep RESULT | sed "s/^RESULT/$name/")
  s1=$(ticks "$pid") d1=$(db_ticks)
  n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
  # CPU time per request of the server process and of every PostgreSQL process.
  echo "$out server_cpu_us=$(( (s1 - s0) * 1000000 / hz / (n > 0 ? n : 1) )) db_cpu_us=$(( (d1 - d0) * 1000000 / hz / (n > 0 ? n : 1) ))"
done
echo "rss_after_run_kb=$(ps -o rss= -p $pid)"
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
