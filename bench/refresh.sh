#!/usr/bin/env bash
# refresh_token grants per second with rotation (issue #4's refresh target).
#
#   cargo build --profile dist
#   [ALG=ES256] bench/refresh.sh sqlite:///tmp/bench/refresh.db [seconds] [connections]
#
# ALG is the application's access token algorithm (RS256 by default, as in Authgear).
# PERF=/tmp/r records a system-wide perf profile of the run into /tmp/r. SPLIT=1 prints the
# CPU microseconds per refresh of each thread group over the middle half of the run
# (bench/cpu_split.py: HTTP threads, the main runtime's workers, PostgreSQL, wrk, idle).
# Creates a user, a SPA (public client) and one session per connection through the Admin
# API, then runs wrk (bench/refresh.lua): each connection walks its own rotation chain.
# The limit is RSA-2048 signing on both cores (`openssl speed -multi 2`), measured just
# before and just after the run: on a shared host it moves by a third from one minute to the
# next, so the script prints both and the share of their mean (BOUND=0 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
conns=${3:-32}
port=${PORT:-3920}
# shellcheck source=bench/server.sh
source bench/server.sh
email="bench$(date +%s%N)@example.com"
user=$(gql 'mutation($e: String!) { createUser(input: {definition: {loginID: {key: "email", value: $e}}}) { user { id } } }' "{\"e\": \"$email\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createUser"]["user"]["id"])')
alg=${ALG:-RS256}
client=$(gql "mutation { createApplication(input: {name: \"bench\", type: SPA, accessTokenSigningAlgorithm: $alg}) { application { clientID } } }" '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
tokens=""
# Two chains per connection, so that a connection never waits for another one's response.
for _ in $(seq 1 $((conns * 2))); do
  t=$(gql 'mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }' "{\"u\": \"$user\", \"c\": \"$client\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createSession"]["refreshToken"])')
  tokens="$tokens${tokens:+,}$t"
done
bound() { openssl speed -seconds 3 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}'; }
[ "${BOUND:-1}" = 0 ] || before=$(bound)
if [ -n "${PERF:-}" ]; then perf record -q -F 999 -a -g -o "$PERF" -- sleep "$secs" 2>/dev/null & fi
if [ -n "${SPLIT:-}" ]; then
  (sleep "$((secs / 4))"; bench/cpu_split.py snap >"$work/split.a"; sleep "$((secs / 2))"; bench/cpu_split.py snap >"$work/split.b") &
  split_pid=$!
fi
result=$(TOKENS=$tokens CLIENT_ID=$client THREADS=2 wrk -t2 -c"$conns" -d"${secs}s" -s bench/refresh.lua "http://127.0.0.1:$port/oauth2/token" | grep RESULT | sed "s/^RESULT/refresh_$alg/")
echo "$result"
if [ "${BOUND:-1}" != 0 ]; then
  after=$(bound)
  rps=$(echo "$result" | grep -o 'rps=[0-9.]*' | cut -d= -f2)
  python3 -c "b, a, r = $before, $after, ${rps:-0}; print(f'rsa2048_signs_per_s_both_cores before={b} after={a} share_of_mean_pct={100 * r / ((b + a) / 2):.1f}')"
fi
if [ -n "${SPLIT:-}" ]; then
  wait "$split_pid"
  bench/cpu_split.py diff "$work/split.a" "$work/split.b" "$(echo "$result" | grep -o 'rps=[0-9.]*' | cut -d= -f2)" "$((secs / 2))"
fi
echo "rss_after_run_kb=$(ps -o rss= -p $pid)"
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
