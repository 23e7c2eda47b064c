#!/usr/bin/env bash
# What blocking hooks cost (issue #12), on SQLite, release build (cargo build --profile dist):
#
#   bench/hooks.sh [seconds] [rounds]        (default 8 s, 2 rounds)
#
# 1. The latency a no-op `user.pre_create` hook adds to creating a user: one connection
#    (wrk -c1, bench/create_user.lua: Admin API createUser with a new email each time),
#    with no hook, with an HTTP hook (bench/webhook_receiver.py's /hook on core 1 answers
#    {"is_allowed": true}) and with a script hook (authgeardeno:///deno/noop.ts, run in the
#    server). The server is pinned to core 0, wrk to core 1.
# 2. Token-endpoint throughput with a no-op `oidc.jwt.pre_create` script hook against
#    none: bench/refresh.sh (refresh grants, RS256, 32 connections, both cores shared).
# Each configuration runs `rounds` times in alternation; the script prints every run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
rounds=${2:-2}
dir=$(mktemp -d)
rx_port=18097
taskset -c 1 python3 bench/webhook_receiver.py $rx_port &
rx_pid=$!
trap 'kill $rx_pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/scripts"
echo 'export default async function (event: unknown) { return { is_allowed: true }; }' > "$dir/scripts/noop.ts"
conf() { # name event url
  if [ -z "$3" ]; then : > "$dir/$1.toml"; return; fi
  printf '[hook]\nwebhook_secret = "bench-secret-bench-secret-bench-secret"\nscripts_dir = "%s"\n[[hook.blocking_handlers]]\nevent = "%s"\nurl = "%s"\n' \
    "$dir/scripts" "$2" "$3" > "$dir/$1.toml"
}
conf none "" ""
conf http user.pre_create "http://127.0.0.1:$rx_port/hook"
conf script user.pre_create "authgeardeno:///deno/noop.ts"
conf jwt_script oidc.jwt.pre_create "authgeardeno:///deno/noop.ts"

create_users() { # config
  rm -f "$dir"/users.db*
  (
    export AUTHGRAPH_CONFIG="$dir/$1.toml" url="sqlite://$dir/users.db" port=3931 PIN=1
    # shellcheck source=bench/server.sh
    source bench/server.sh
    gql '{ users(first: 1) { totalCount } }' '{}' >/dev/null
    TOKEN=$TOKEN PREFIX="$1-$RANDOM" $load wrk -t1 -c1 -d"${secs}s" -s bench/create_user.lua "http://127.0.0.1:$port/_api/admin/graphql" \
      | grep RESULT | sed "s/^RESULT/create_user_$1/"
    kill "$pid"
  )
}
for _ in $(seq "$rounds"); do
  for c in none http script; do create_users $c; done
done
for _ in $(seq "$rounds"); do
  for c in none jwt_script; do
    rm -f "$dir"/refresh.db*
    AUTHGRAPH_CONFIG="$dir/$c.toml" bench/refresh.sh "sqlite://$dir/refresh.db" "$secs" 32 | grep refresh_ | sed "s/^/$c /"
  done
done
