#!/usr/bin/env bash
# Password + authenticator-app sign-ins against password-only sign-ins, in the same run
# (issue #10: the first must reach at least 90 % of the second).
#
#   cargo build --profile dist
#   bench/login_totp.sh sqlite:///tmp/bench/totp.db [seconds] [browsers] [rounds] [users]
#
# Creates `users` users (default 3,000) with passwords and enrols an authenticator app for
# each through the settings forms (bench/enrol_totp.py), plus one password-only user per
# browser; then runs, in alternation `rounds` times, wrk with bench/login.lua (password
# only: three requests) and with bench/login_totp.lua (password, then the code: four
# requests), one connection per browser. A code is accepted once per user and 30-second
# step, so the TOTP run needs more users than it signs in per 30 seconds, and rounds
# should be at least 30 seconds apart for one user (a round is two runs). Prints each
# run, the ratio of the means, and the server's CPU per sign-in of each kind.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
browsers=${3:-4}
rounds=${4:-2}
users=${5:-3000}
port=${PORT:-3924}
export AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_IP_PER_MINUTE=0 AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE=0
export AUTHGRAPH_RATE_LIMITS__SIGNUPS_PER_IP_PER_MINUTE=0
# shellcheck source=bench/server.sh
source bench/server.sh
password="bench password 42"
stamp=$(date +%s%N)
for batch in $(seq 0 $(((users - 1) / 50))); do
  mutation="mutation(\$p: String!) {"
  for i in $(seq 1 50); do
    n=$((batch * 50 + i))
    [ "$n" -le "$users" ] || break
    mutation="$mutation u$n: createUser(input: {definition: {loginID: {key: \"email\", value: \"totp$stamp-$n@example.com\"}}, password: \$p}) { user { id } }"
    echo "totp$stamp-$n@example.com" >>"$work/totp_ids"
  done
  gql "$mutation }" "{\"p\": \"$password\"}" >/dev/null
done
plain=""
for i in $(seq 1 "$browsers"); do
  gql 'mutation($e: String!, $p: String!) { createUser(input: {definition: {loginID: {key: "email", value: $e}}, password: $p}) { user { id } } }' \
    "{\"e\": \"plain$stamp-$i@example.com\", \"p\": \"$password\"}" >/dev/null
  plain="$plain${plain:+,}plain$stamp-$i@example.com"
done
steps=$(((2 * rounds * (secs + 5) + 60) / 30 + 3))
python3 bench/enrol_totp.py "http://127.0.0.1:$port" "$password" "$work/totp_ids" "$work/codes" "$steps" "$browsers"
client=$(gql 'mutation { createApplication(input: {name: "totp bench", type: SPA, redirectURIs: ["http://127.0.0.1:9/cb"]}) { application { clientID } } }' '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
challenge=$(python3 -c 'import base64,hashlib; print(base64.urlsafe_b64encode(hashlib.sha256(b"bench-verifier-bench-verifier-bench-verifier-0123").digest()).rstrip(b"=").decode())')
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
run() { # kind script -> "kind logins_per_s cpu_ms_per_login"
  local before after out logins
  before=$(cpu)
  out=$(LOGIN_IDS=$plain PASSWORD=$password CLIENT_ID=$client CHALLENGE=$challenge TOTP_CODES="$work/codes" BROWSERS=$browsers \
    $load wrk -t"$browsers" -c"$browsers" -d"${secs}s" -s "$2" "http://127.0.0.1:$port" | grep RESULT)
  after=$(cpu)
  echo "${out/RESULT/$1}" >&2
  logins=$(printf '%s' "$out" | sed -n 's/.* logins=\([0-9]*\).*/\1/p')
  python3 -c "print('$1', $logins / $secs, 1000 * ($after - $before) / $hz / max($logins, 1))"
}
for r in $(seq 1 "$rounds"); do
  run password bench/login.lua >>"$work/runs"
  run password_totp bench/login_totp.lua >>"$work/runs"
done
python3 - "$work/runs" <<'PY'
import sys
runs = [line.split() for line in open(sys.argv[1])]
def mean(kind, i):
    xs = [float(r[i]) for r in runs if r[0] == kind]
    return sum(xs) / len(xs)
p, t = mean("password", 1), mean("password_totp", 1)
print(f"password_only_per_s={p:.1f} password_totp_per_s={t:.1f} ratio={t / p:.1%} "
      f"cpu_ms_password={mean('password', 2):.2f} cpu_ms_password_totp={mean('password_totp', 2):.2f}")
PY
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
