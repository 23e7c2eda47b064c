#!/usr/bin/env bash
# Runs bench/tokens.sh, bench/refresh.sh and bench/admin_api.sh with two release builds in
# alternation (old, new, old, new, ...), each on a fresh copy of the same database, and
# prints every run's RESULT lines tagged with the build. A refactor that must not change
# speed is checked with it: the same machine, the same minute, the same data.
#
#   (build the older commit) && cp target/dist/authgraph /tmp/authgraph-old
#   cargo build --profile dist && cp target/dist/authgraph /tmp/authgraph-new
#   bench/before_after.sh /tmp/authgraph-old /tmp/authgraph-new [rounds] [seconds] [users]
#
# Both servers and wrk share the machine, as in the scripts themselves. SQLite only: the
# admin run seeds `users` users once (bench/seed.sh) and copies that file for every run.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?older binary}
new=${2:?newer binary}
rounds=${3:-3}
secs=${4:-10}
users=${5:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MASTER_KEY_FILE="$work/master.key"
AUTHGRAPH_MASTER_KEY_FILE=$MASTER_KEY_FILE AUTHGRAPH_DATABASE_URL="sqlite://$work/seed.db" "$old" migrate >/dev/null 2>&1
bench/seed.sh "sqlite://$work/seed.db" "$users" >/dev/null
for round in $(seq "$rounds"); do
  for b in old new; do
    bin=${!b}
    rm -f "$work"/run.db*
    BIN=$bin bench/tokens.sh "sqlite://$work/run.db" "$secs" 32 | grep -E "^(RS256|ES256)" | sed "s/^/round=$round build=$b tokens /"
    rm -f "$work"/run.db*
    BIN=$bin bench/refresh.sh "sqlite://$work/run.db" "$secs" 32 | grep -E "^refresh_" | sed "s/^/round=$round build=$b /"
    cp "$work/seed.db" "$work/admin.db"
    BIN=$bin USERS=$users bench/admin_api.sh "sqlite://$work/admin.db" "$secs" 8 | grep -E "^(list|search|broad)" | sed "s/^/round=$round build=$b admin /"
    rm -f "$work"/admin.db*
  done
done
