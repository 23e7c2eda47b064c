#!/usr/bin/env bash
# Instructions the server executes per users-list request, counted by valgrind's
# callgrind: unlike time, the count is the same from run to run whatever else the machine
# does, so two builds compare on a noisy machine. The server runs under callgrind twice,
# serving N1 and then N2 requests (bench/list_load.py; QUERY= another document); the
# difference divided by N2 - N1 leaves out start-up and shutdown.
#
#   BIN=target/dist/authgraph bench/instructions_per_request.sh sqlite:///tmp/bench/export.db 100 300
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
n1=${2:-100}
n2=${3:-300}
bin=${BIN:-target/dist/authgraph}
port=${PORT:-3978}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AUTHGRAPH_DATABASE_URL="$url" AUTHGRAPH_MASTER_KEY_FILE="${MASTER_KEY_FILE:-bench/bench.master.key}" AUTHGRAPH_LOG__LEVEL=warn
export AUTHGRAPH_PUBLIC_URL="http://127.0.0.1:$port"
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
TOKEN=$("$bin" admin-token --ttl 1h)

count() {
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$bin" --listen "127.0.0.1:$port" serve 2>"$work/vg.log" &
  local pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do kill -0 $pid 2>/dev/null || { cat "$work/vg.log"; exit 1; }; sleep 0.2; done
  python3 bench/list_load.py "$port" "$TOKEN" "$1" >/dev/null
  kill -TERM $pid
  wait $pid || true
  grep -o 'Collected : [0-9]*' "$work/vg.log" | awk '{print $3}'
}
a=$(count "$n1")
b=$(count "$n2")
echo "instructions_per_request=$(( (b - a) / (n2 - n1) )) (runs of $n1 and $n2 requests: $a, $b)"
