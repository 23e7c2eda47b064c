#!/usr/bin/env bash
# Server CPU time per users-list request (`users(first: 50)` with roles and groups, as in
# bench/admin_api.sh), measured with `perf stat -e task-clock` on the server process while
# a fixed number of requests runs (4 keep-alive connections from bench/list_load.py). On a
# machine whose speed drifts from minute to minute, CPU per request of two builds run in
# alternation compares better than their request rates. Server on core 0, load on core 1.
#
#   bench/cpu_per_request.sh sqlite:///tmp/bench/export.db 2000
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
n=${2:-2000}
bin=${BIN:-target/dist/authgraph}
port=${PORT:-3977}
work=$(mktemp -d)
export AUTHGRAPH_DATABASE_URL="$url" AUTHGRAPH_MASTER_KEY_FILE="${MASTER_KEY_FILE:-bench/bench.master.key}" AUTHGRAPH_LOG__LEVEL=warn
export AUTHGRAPH_PUBLIC_URL="http://127.0.0.1:$port"
taskset -c 0 "$bin" --listen "127.0.0.1:$port" serve 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }; sleep 0.05; done
TOKEN=$("$bin" admin-token --ttl 1h)
taskset -c 1 python3 bench/list_load.py "$port" "$TOKEN" 200 >/dev/null # warm-up
perf stat -x, -e task-clock -p "$pid" -o "$work/stat" &
stat_pid=$!
sleep 0.3
taskset -c 1 python3 bench/list_load.py "$port" "$TOKEN" "$n" >/dev/null
kill -INT $stat_pid
wait $stat_pid 2>/dev/null || true
awk -F, -v n="$n" '/task-clock/ {printf "requests=%d server_cpu_ms_per_request=%.3f\n", n, $1 / n}' "$work/stat"
