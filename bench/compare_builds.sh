#!/usr/bin/env bash
# Compares two release builds of authgraph on the same Admin API requests, in one run:
# each server pinned to core 0, wrk pinned to core 1, the builds in alternation, three
# rounds each. Prints requests/s for each build and the ratio B/A per request type.
#
#   cargo build --profile dist && cp target/dist/authgraph /tmp/authgraph-new
#   (build the other commit) && cp .../authgraph /tmp/authgraph-old
#   bench/compare_builds.sh /tmp/authgraph-old /tmp/authgraph-new [users] [seconds]
#
# Each build gets its own copy of one seeded SQLite database (bench/seed.sh), migrated by
# the older build first, so that both read the same rows.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?older binary}
new=${2:?newer binary}
users=${3:-100000}
secs=${4:-10}
port=${PORT:-3910}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export AUTHGRAPH_MASTER_KEY_FILE="$work/master.key" AUTHGRAPH_LOG__LEVEL=warn
export AUTHGRAPH_PUBLIC_URL="http://127.0.0.1:$port"

AUTHGRAPH_DATABASE_URL="sqlite://$work/seed.db" "$old" migrate >/dev/null
bench/seed.sh "sqlite://$work/seed.db" "$users" >/dev/null
for b in old new; do
  cp "$work/seed.db" "$work/$b.db"
  AUTHGRAPH_DATABASE_URL="sqlite://$work/$b.db" "${!b}" migrate >/dev/null
done

list='{"query":"{ users(first: 50) { edges { node { id standardAttributes roles { edges { node { key } } } groups { edges { node { key } } } } } } }"}'
small='{"query":"{ roles(first: 5) { edges { node { key name } } } }"}'

run() { # binary db body -> rps
  local bin=$1 db=$2 body=$3
  AUTHGRAPH_DATABASE_URL="sqlite://$db" taskset -c 0 "$bin" --listen "127.0.0.1:$port" serve 2>"$work/server.log" &
  local pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
  local token
  token=$(AUTHGRAPH_DATABASE_URL="sqlite://$db" "$bin" admin-token --ttl 1h 2>/dev/null | tail -1)
  TOKEN=$token BODY=$body taskset -c 1 wrk -t1 -c8 -d"${secs}s" -s bench/graphql.lua "http://127.0.0.1:$port/_api/admin/graphql" |
    grep RESULT | sed 's/.*rps=\([0-9.]*\).*/\1/'
  kill $pid
  wait $pid 2>/dev/null || true
}

for name in list small; do
  a=() b=()
  for _ in 1 2 3; do
    a+=("$(run "$old" "$work/old.db" "${!name}")")
    b+=("$(run "$new" "$work/new.db" "${!name}")")
  done
  python3 - "$name" "${a[*]}" "${b[*]}" <<'PY'
import sys, statistics
name, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"{name}: old {a} median {ma:.0f}/s; new {b} median {mb:.0f}/s; new/old {mb/ma:.3f}")
PY
done
