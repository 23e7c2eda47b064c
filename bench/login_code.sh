#!/usr/bin/env bash
# Complete passwordless sign-ins per second with an email code (issue #10): authorize ->
# login form -> send code -> (read the email) -> verify code (answered with the client's
# code) -> token. No Argon2 is involved.
#
#   cargo build --profile dist
#   bench/login_code.sh sqlite:///tmp/bench/code.db [seconds] [browsers] [users]
#
# Creates `users` users (default 12,000) without passwords and a SPA (with VERIFIED=1
# their addresses are verified already, as a returning user's are; otherwise every
# sign-in is the address's first and also marks it verified), then runs wrk (bench/login_code.lua)
# with one connection per browser. Email goes to the log (no SMTP): the server logs at
# `warn` except for the mailer's lines (JSON), which the browsers read their codes from,
# as a user reads the email. The messaging limits per IP
# address are off (every browser is 127.0.0.1); the per-address ones and the resend
# cooldown stay on, so each address signs in at most once per run: have more users than
# sign-ins. Also prints the server's CPU
# seconds per sign-in (utime + stime from /proc over the run), the machine's idle and
# stolen share over the run, and the server's context switches per sign-in.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
browsers=${3:-4}
users=${4:-12000}
port=${PORT:-3923}
export AUTHGRAPH_OOB_OTP__EMAIL__PRIMARY=true AUTHGRAPH_MESSAGING__EMAIL_PER_IP_PER_MINUTE=0
export AUTHGRAPH_RATE_LIMITS__SIGNUPS_PER_IP_PER_MINUTE=0
# WRONG_FIRST=1: a wrong code before each right one (bench/login_code.lua), all from one
# address, so the limit of wrong codes per address is off for that run.
if [ "${WRONG_FIRST:-}" = 1 ]; then export AUTHGRAPH_MESSAGING__CODE_FAILURES_PER_IP_PER_MINUTE=0; fi
export RUST_LOG=warn,authgraph::service::account::mail=info AUTHGRAPH_LOG__FORMAT=json
# shellcheck source=bench/server.sh
source bench/server.sh
stamp=$(date +%s%N)
if [ "${VERIFIED:-}" = 1 ]; then
  # Returning users: addresses already verified (by an import with `email_verified`), so a
  # sign-in writes no verification.
  seq 1 "$users" | awk -v s="$stamp" '{print "code" s "-" $1 "@example.com"}' >"$work/ids"
  awk '{print "{\"email\":\"" $1 "\",\"email_verified\":true}"}' "$work/ids" >"$work/users.ndjson"
  job=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/x-ndjson' --data-binary @"$work/users.ndjson" \
    "http://127.0.0.1:$port/_api/admin/users/import?identifier=email" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
  until curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/_api/admin/users/import/$job" | grep -q '"status":"completed"'; do sleep 0.2; done
fi
for batch in $(seq 0 $(((users - 1) / 50))); do
  [ "${VERIFIED:-}" = 1 ] && break
  mutation="mutation {"
  for i in $(seq 1 50); do
    n=$((batch * 50 + i))
    [ "$n" -le "$users" ] || break
    mutation="$mutation u$n: createUser(input: {definition: {loginID: {key: \"email\", value: \"code$stamp-$n@example.com\"}}}) { user { id } }"
    echo "code$stamp-$n@example.com" >>"$work/ids"
  done
  gql "$mutation }" '{}' >/dev/null
done
client=$(gql 'mutation { createApplication(input: {name: "code bench", type: SPA, redirectURIs: ["http://127.0.0.1:9/cb"]}) { application { clientID } } }' '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
challenge=$(python3 -c 'import base64,hashlib; print(base64.urlsafe_b64encode(hashlib.sha256(b"bench-verifier-bench-verifier-bench-verifier-0123").digest()).rstrip(b"=").decode())')
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
switches() { cat /proc/"$pid"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }
hz=$(getconf CLK_TCK)
before=$(cpu) sw0=$(switches) sys0=$(head -1 /proc/stat)
out=$(LOGIN_IDS_FILE="$work/ids" BROWSERS=$browsers MAIL_LOG="$work/server.log" CLIENT_ID=$client CHALLENGE=$challenge \
  $load wrk -t"$browsers" -c"$browsers" -d"${secs}s" -s bench/login_code.lua "http://127.0.0.1:$port" | grep RESULT)
after=$(cpu) sw1=$(switches) sys1=$(head -1 /proc/stat)
logins=$(printf '%s' "$out" | sed -n 's/.* logins=\([0-9]*\).*/\1/p')
echo "${out/RESULT/code_login}"
python3 - "$before" "$after" "$hz" "$logins" "$sw0" "$sw1" "$sys0" "$sys1" <<'PY'
import sys
b, a, hz, n, sw0, sw1 = (float(x) for x in sys.argv[1:7])
s0, s1 = ([int(x) for x in s.split()[1:9]] for s in sys.argv[7:9])
d = [y - x for x, y in zip(s0, s1)]
t, n = (a - b) / hz, max(n, 1)
print(f"server_cpu_s={t:.2f} cpu_ms_per_login={1000 * t / n:.3f} switches_per_login={(sw1 - sw0) / n:.1f} "
      f"machine_idle={d[3] / sum(d):.0%} stolen={d[7] / sum(d):.0%}")
PY
if grep -q '"level":"\(ERROR\|WARN\)"' "$work/server.log"; then
  echo "server warnings/errors:"; grep '"level":"\(ERROR\|WARN\)"' "$work/server.log" | tail -5
fi
if [ "${PIN:-}" = 1 ]; then
  # The dominant primitive's bound on the server's core, same minutes: a sign-in signs two
  # RS256 tokens (ID and access token).
  taskset -c 0 openssl speed -seconds 3 rsa2048 2>/dev/null | grep '^rsa 2048' | awk '{print "rsa2048_sign_per_s_core0=" $6}'
fi
