#!/usr/bin/env bash
# Side by side on one core each: client-credentials RS256 JWT access tokens from authgraph
# and from oidc-provider (npm, OpenID certified), with wrk on the other core.
#
#   cargo build --profile dist
#   bench/compare.sh [seconds] [connections] [rounds]      (default 10 s, 16, 3)
#
# Installs oidc-provider into a scratch folder (npm), starts each server pinned to core 0
# (taskset), runs wrk pinned to core 1, in alternation, `rounds` times each, and prints
# each rate, the median ratio, and the RSA-2048 signing bound of core 0 measured in the
# same run, after every round (`openssl speed -seconds 3 rsa2048`, one process). authgraph runs on SQLite in
# a fresh folder.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
rounds=${3:-3}
scratch=${SCRATCH:-/tmp/agcompare}
mkdir -p "$scratch"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
if [ ! -d "$scratch/node_modules/oidc-provider" ]; then
  (cd "$scratch" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund oidc-provider@9 >/dev/null)
fi
cp bench/peer/oidc_provider.mjs "$scratch/"
resource="https://api.example.com/bench"
export RESOURCE_ENC SCOPE=read
RESOURCE_ENC=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$resource")

# authgraph: a fresh SQLite database, an m2m client granted `read` on the resource.
rm -f "$scratch"/ag.db*
url="sqlite://$scratch/ag.db"
port=3910
PIN=1
# shellcheck source=bench/server.sh
source bench/server.sh
gql 'mutation($u: String!) { createResource(input: {resourceURI: $u}) { resource { id } } createScope(input: {resourceURI: $u, scope: "read"}) { scope { id } } }' "{\"u\": \"$resource\"}" >/dev/null
out=$(gql 'mutation { createApplication(input: {name: "bench", type: M2M, accessTokenSigningAlgorithm: RS256}) { application { clientID } clientSecret } }' '{}')
client=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["createApplication"]["application"]["clientID"])' "$out")
secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["createApplication"]["clientSecret"])' "$out")
gql 'mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: ["read"]}) { scopes { scope } } }' "{\"u\": \"$resource\", \"c\": \"$client\"}" >/dev/null
ag_basic=$(printf '%s:%s' "$client" "$secret" | base64 -w0)
ag_pid=$pid
kill -STOP "$ag_pid"

# oidc-provider, pinned to the same core, stopped while authgraph runs.
(cd "$scratch" && PORT=3920 RESOURCE="$resource" NODE_ENV=production exec taskset -c 0 node oidc_provider.mjs >"$scratch/op.log" 2>&1) &
op_pid=$!
# A stopped process acts on SIGTERM only once continued; both are waited for, so that a run
# started right after this one finds the ports free (its readiness check would otherwise
# reach this run's server).
trap 'kill -CONT $op_pid $ag_pid 2>/dev/null; kill $op_pid $ag_pid 2>/dev/null; wait $op_pid $ag_pid 2>/dev/null; rm -rf "$work"' EXIT
until grep -q ready "$scratch/op.log" 2>/dev/null; do kill -0 $op_pid || { cat "$scratch/op.log"; exit 1; }; sleep 0.1; done
op_basic=$(printf 'bench:bench-secret-bench-secret-bench-secret' | base64 -w0)
# Each answers with a JWT before the runs start.
check() { curl -sf "$1" -H "Authorization: Basic $2" -d "grant_type=client_credentials&resource=$RESOURCE_ENC&scope=read" | python3 -c 'import json,sys; t=json.load(sys.stdin)["access_token"]; assert t.count(".")==2, t'; }
kill -STOP "$op_pid"; kill -CONT "$ag_pid"; check "http://127.0.0.1:3910/oauth2/token" "$ag_basic"
kill -STOP "$ag_pid"; kill -CONT "$op_pid"; check "http://127.0.0.1:3920/token" "$op_basic"
kill -STOP "$op_pid"

run() { # name pid url basic
  kill -CONT "$2"; sleep 0.5
  BASIC=$4 taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" -s bench/token.lua "$3" | grep RESULT | sed "s/^RESULT/$1/"
  kill -STOP "$2"
}
ag_rates=() op_rates=() rsa_rates=()
bound() { taskset -c 0 openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}'; }
for r in $(seq "$rounds"); do
  line=$(run authgraph "$ag_pid" "http://127.0.0.1:3910/oauth2/token" "$ag_basic"); echo "round $r $line"
  ag_rates+=("$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")")
  line=$(run oidc-provider "$op_pid" "http://127.0.0.1:3920/token" "$op_basic"); echo "round $r $line"
  op_rates+=("$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")")
  # The bound is taken again in every round: a shared host's speed drifts within a run.
  rsa_rates+=("$(bound)"); echo "round $r openssl rsa2048 signs/s on core 0: ${rsa_rates[-1]}"
done
python3 - "${rsa_rates[*]}" "${ag_rates[*]}" "${op_rates[*]}" <<'PY'
import statistics, sys
rs, ag, op = ([float(x) for x in a.split()] for a in sys.argv[1:4])
rsa, a, o = statistics.median(rs), statistics.median(ag), statistics.median(op)
shares = [100 * x / b for x, b in zip(ag, rs)]
print(f"authgraph RS256 tokens/s (median of {len(ag)}): {a:.1f}   runs: {ag}")
print(f"oidc-provider RS256 tokens/s (median of {len(op)}): {o:.1f}   runs: {op}")
print(f"ratio authgraph / oidc-provider: {a / o:.2f}")
print(f"RSA-2048 signs/s on core 0 (openssl speed, each round): median {rsa:.1f}   runs: {rs}")
print(f"authgraph at {100 * a / rsa:.1f} % of it (each round against its own: {[round(x, 1) for x in shares]}), oidc-provider at {100 * o / rsa:.1f} %")
PY
