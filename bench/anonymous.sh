#!/usr/bin/env bash
# Anonymous-request grants of returning anonymous users (ES256 access and ID tokens, or an
# RS256 ID token with ID_ALG=RS256), each with its own fresh challenge, as the SDKs send them.
#
#   cargo build --profile dist
#   PIN=1 bench/anonymous.sh sqlite:///tmp/bench/anon.db [seconds] [connections] [count]
#
# Starts the release server (anonymous users on, no per-IP sign-up limit), creates a
# native app with ES256 access tokens (and ID tokens unless ID_ALG says otherwise), signs
# up 2,000 device keys, then pre-signs COUNT
# JWTs over fresh challenges (bench/anonymous_jwts.py; a challenge is used once) and
# replays each once with wrk (bench/anonymous.lua). COUNT must exceed rate x seconds:
# a run that runs out sends used challenges, counted as failed. With PIN=1 the server is
# on core 0 and wrk on core 1; the RSA-2048 and P-256 signing bounds of the same core are
# printed alongside.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-10}
conns=${3:-16}
count=${4:-40000}
port=${PORT:-3912}
export AUTHGRAPH_ANONYMOUS__ENABLED=true AUTHGRAPH_RATE_LIMITS__ANONYMOUS_SIGNUPS_PER_IP_PER_MINUTE=0
# shellcheck source=bench/server.sh
source bench/server.sh
out=$(gql "mutation { createApplication(input: {name: \"bench\", type: NATIVE, redirectURIs: [\"com.example.bench:/cb\"], accessTokenSigningAlgorithm: ES256, idTokenSigningAlgorithm: ${ID_ALG:-ES256}}) { application { clientID } } }" '{}')
client=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["createApplication"]["application"]["clientID"])' "$out")
export BODIES="$work/bodies"
python3 bench/anonymous_jwts.py "http://127.0.0.1:$port" "$client" 2000 "$count" 2 "$BODIES"
before=$(awk '{print $14+$15}' /proc/$pid/stat)
$load wrk -t2 -c"$conns" -d"${secs}s" -s bench/anonymous.lua "http://127.0.0.1:$port/oauth2/token" | grep RESULT
after=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "server_cpu_s=$(( (after - before) / $(getconf CLK_TCK) ))"
if [ "${PIN:-}" = 1 ]; then
  taskset -c 0 openssl speed -seconds 3 rsa2048 2>/dev/null | grep '^rsa 2048' | awk '{print "rsa2048_sign_per_s_core0=" $6}'
  taskset -c 0 openssl speed -seconds 3 ecdsap256 2>/dev/null | grep 'nistp256' | awk '{print "p256_sign_per_s_core0=" $(NF-1)}'
fi
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
