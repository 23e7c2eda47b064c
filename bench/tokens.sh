#!/usr/bin/env bash
# Client-credentials throughput: tokens/s and latency at N connections, per algorithm.
#
#   cargo build --profile dist
#   bench/tokens.sh sqlite:///tmp/bench/tokens.db [seconds] [connections]
#   bench/tokens.sh postgres://postgres@127.0.0.1:5432/agtokens [seconds] [connections]
#
# Starts the release server on the database, creates an m2m application per algorithm
# with a resource and a scope through the Admin API, then runs wrk (bench/token.lua).
# Prints idle RSS and RSS after the runs. The load generator shares the machine, unless
# PIN=1: then the server runs on core 0 and wrk (WRK_THREADS=1 suits) on core 1.
# ALGS="ES256" runs one algorithm only. PERF=/tmp/p records a perf profile of the server
# during each run into /tmp/p.<alg>.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
conns=${3:-32}
port=${PORT:-3910}
# shellcheck source=bench/server.sh
source bench/server.sh
sleep 1
echo "idle_rss_kb=$(ps -o rss= -p $pid)"
resource="https://bench.example.com/api/$(date +%s%N)"
gql 'mutation($u: String!) { createResource(input: {resourceURI: $u}) { resource { id } } createScope(input: {resourceURI: $u, scope: "read"}) { scope { id } } }' "{\"u\": \"$resource\"}" >/dev/null
export RESOURCE_ENC
RESOURCE_ENC=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$resource")
for alg in ${ALGS:-RS256 ES256}; do
  out=$(gql 'mutation($a: SigningAlgorithm) { createApplication(input: {name: "bench", type: M2M, accessTokenSigningAlgorithm: $a}) { application { clientID } clientSecret } }' "{\"a\": \"$alg\"}")
  client=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1])["data"]["createApplication"]; print(d["application"]["clientID"])' "$out")
  secret=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1])["data"]["createApplication"]; print(d["clientSecret"])' "$out")
  gql 'mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: ["read"]}) { scopes { scope } } }' "{\"u\": \"$resource\", \"c\": \"$client\"}" >/dev/null
  export BASIC
  BASIC=$(printf '%s:%s' "$client" "$secret" | base64 -w0)
  curl -sf "http://127.0.0.1:$port/oauth2/token" -H "Authorization: Basic $BASIC" -d "grant_type=client_credentials&resource=$RESOURCE_ENC" | head -c 80; echo
  if [ -n "${PERF:-}" ]; then perf record -q -F 1999 -g -p "$pid" -o "$PERF.$alg" -- sleep "$secs" 2>/dev/null & fi
  $load wrk -t"${WRK_THREADS:-2}" -c"$conns" -d"${secs}s" -s bench/token.lua "http://127.0.0.1:$port/oauth2/token" | grep RESULT | sed "s/^RESULT/$alg/"
done
echo "rss_after_runs_kb=$(ps -o rss= -p $pid)"
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
