#!/usr/bin/env bash
# Keyword search over a seeded database (issue #14): `users(first: 50, searchKeyword:)`
# for keywords of each length 1..6 (a random piece of a seeded email or name), common
# substrings (every user), rare ones (one user), broad prefixes (1,111-111,111 users
# clustered in creation order), digit runs (spread over time) and keywords with symbols
# (`%`, `_`, `+`, `'`, an emoji: CLASSES=symbols) and keywords across a separator that no
# user holds while every user holds each side (`x last`: CLASSES=joined). Prints p50/p99
# per class.
# The server runs on core 0, wrk (1 thread, CONNS connections) on core 1.
#
#   cargo build --profile dist
#   bench/seed.sh sqlite://bench.db 1000000      # after `authgraph migrate`
#   bench/search.sh sqlite://bench.db [seconds per class]
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-10}
conns=${CONNS:-4}
port=${PORT:-3901}
classes=${CLASSES:-"len1 len2 len3 len4 len5 len6 common rare digits broad"}
export PIN=1 USERS=${USERS:-1000000}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
source bench/server.sh
export TOKEN
echo "server pid $pid on core 0; wrk on core 1, $conns connections, ${secs}s per class"
for class in $classes; do
  # A short warm-up per class, then the measured run.
  CLASS=$class $load wrk -t1 -c"$conns" -d2s -s bench/search.lua "http://127.0.0.1:$port/_api/admin/graphql" >/dev/null
  CLASS=$class $load wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s -s bench/search.lua \
    "http://127.0.0.1:$port/_api/admin/graphql" | grep RESULT | sed "s/^RESULT/$class/"
done
if grep -q "ERROR" "$work/server.log"; then echo "server errors:"; grep "ERROR" "$work/server.log" | tail -5; fi
