#!/usr/bin/env bash
# Complete passkey sign-ins per second (issue #11): authorize -> login page (WebAuthn
# options) -> assertion (answered with the code) -> token, with a software authenticator
# as the load generator (bench/passkey_load.rs signs every assertion over the page's
# challenge).
#
#   cargo build --profile dist --bin authgraph --example passkey_load
#   PIN=1 bench/passkey.sh sqlite:///tmp/bench/passkey.db [seconds] [connections] [users] [ID_ALG]
#
# Signs up `users` accounts with a passkey each (default 2,000), then runs `connections`
# browsers (default 8) for `seconds` (default 20). ID_ALG (default RS256) is the SPA's ID
# token algorithm; its access tokens are RS256. The relying-party ID is `localhost`, so the
# server's public URL is http://localhost:PORT. Prints the load generator's RESULT line and
# the server's CPU per sign-in.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
conns=${3:-8}
users=${4:-2000}
alg=${5:-RS256}
port=${PORT:-3931}
export PUBLIC_URL="http://localhost:$port" AUTHGRAPH_RATE_LIMITS__SIGNUPS_PER_IP_PER_MINUTE=0
# shellcheck source=bench/server.sh
source bench/server.sh
client=$(gql "mutation { createApplication(input: {name: \"passkey bench\", type: SPA, redirectURIs: [\"http://127.0.0.1:9/cb\"], idTokenSigningAlgorithm: $alg}) { application { clientID } } }" '{}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# The load generator signs everyone up first; the server's CPU is read around the run only,
# from the moment it prints that the sign-ups are done.
exec 3< <($load target/release/examples/passkey_load "$PUBLIC_URL" "$client" "$users" "$conns" "$secs" 2>&1)
before=""
while IFS= read -r line <&3; do
  echo "$line"
  case "$line" in
    "signed up"*) before=$(cpu) ;;
    RESULT*) after=$(cpu); logins=$(printf '%s' "$line" | sed -n 's/.* logins=\([0-9]*\).*/\1/p') ;;
  esac
done
python3 -c "import sys; b,a,hz,n=map(float,sys.argv[1:]); print(f'server_cpu_s={(a-b)/hz:.2f} cpu_ms_per_login={1000*(a-b)/hz/max(n,1):.3f}')" "$before" "$after" "$hz" "$logins"
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
