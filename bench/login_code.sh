#!/usr/bin/env bash
# Complete passwordless sign-ins per second with an email code (issue #10): authorize ->
# login form -> send code -> (Admin API generateOOBOTPCode, standing in for reading the
# email) -> verify code -> resume -> token. No Argon2 is involved.
#
#   cargo build --release
#   bench/login_code.sh sqlite:///tmp/bench/code.db [seconds] [browsers]
#
# Creates 2,000 users without passwords and a SPA, then runs wrk (bench/login_code.lua)
# with one connection per browser. Email goes to the log (no SMTP), which the server
# writes at `warn`, so sending costs its audit row only. The messaging limits per IP
# address are off (every browser is 127.0.0.1); the per-address ones stay on, and each
# address is signed in to at most about once a minute. Also prints the server's CPU
# seconds per sign-in (utime + stime from /proc over the run).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
browsers=${3:-4}
port=${PORT:-3923}
export AUTHGRAPH_OOB_OTP__EMAIL__PRIMARY=true AUTHGRAPH_MESSAGING__EMAIL_PER_IP_PER_MINUTE=0
export AUTHGRAPH_RATE_LIMITS__SIGNUPS_PER_IP_PER_MINUTE=0
# shellcheck source=bench/server.sh
source bench/server.sh
stamp=$(date +%s%N)
ids=""
for batch in $(seq 0 39); do
  mutation="mutation {"
  for i in $(seq 1 50); do
    n=$((batch * 50 + i))
    mutation="$mutation u$n: createUser(input: {definition: {loginID: {key: \"email\", value: \"code$stamp-$n@example.com\"}}}) { user { id } }"
    ids="$ids${ids:+,}code$stamp-$n@example.com"
  done
  gql "$mutation }" '{}' >/dev/null
done
client=$(gql 'mutation { createApplication(input: {name: "code bench", type: SPA, redirectURIs: ["http://127.0.0.1:9/cb"]}) { application { clientID } } }' '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
challenge=$(python3 -c 'import base64,hashlib; print(base64.urlsafe_b64encode(hashlib.sha256(b"bench-verifier-bench-verifier-bench-verifier-0123").digest()).rstrip(b"=").decode())')
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
before=$(cpu)
out=$(LOGIN_IDS=$ids TOKEN=$TOKEN CLIENT_ID=$client CHALLENGE=$challenge \
  wrk -t"$browsers" -c"$browsers" -d"${secs}s" -s bench/login_code.lua "http://127.0.0.1:$port" | grep RESULT)
after=$(cpu)
logins=$(printf '%s' "$out" | sed -n 's/.* logins=\([0-9]*\).*/\1/p')
echo "${out/RESULT/code_login}"
python3 -c "import sys; t=($after-$before)/$hz; n=max($logins,1); print(f'server_cpu_s={t:.2f} cpu_ms_per_login={1000*t/n:.3f}')"
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
