#!/usr/bin/env bash
# The server's CPU for one TOTP check at sign-in (issue #10: under 1 ms): wrong codes
# posted to /login/totp on one sealed "password passed" state, as fast as wrk sends them.
# Each request decrypts the seed, computes the codes of the accepted steps, compares them
# in constant time and writes the failure's audit row.
#
#   cargo build --profile dist
#   PIN=1 bench/totp_check.sh sqlite:///tmp/bench/check.db [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-10}
port=${PORT:-3925}
export AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_IP_PER_MINUTE=0 AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE=0
export AUTHGRAPH_RATE_LIMITS__PASSWORD_CHECK_FAILURES_PER_USER_PER_MINUTE=0
# shellcheck source=bench/server.sh
source bench/server.sh
password="bench password 42"
gql 'mutation($p: String!) { createUser(input: {definition: {loginID: {key: "email", value: "check@example.com"}}, password: $p}) { user { id } } }' \
  "{\"p\": \"$password\"}" >/dev/null
echo check@example.com >"$work/ids"
python3 bench/enrol_totp.py "http://127.0.0.1:$port" "$password" "$work/ids" "$work/codes" 1 1
# One sign-in up to the code form: its CSRF cookie and token, and the sealed state.
page=$(curl -s -c "$work/jar" "http://127.0.0.1:$port/login")
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
form=$(curl -s -b "$work/jar" "http://127.0.0.1:$port/login" --data-urlencode "csrf=$csrf" --data-urlencode flow= \
  --data-urlencode login_id=check@example.com --data-urlencode "password=$password")
pending=$(printf '%s' "$form" | sed -n 's/.*name="pending" value="\([^"]*\)".*/\1/p' | head -1 | sed 's/&#x2f;/\//g; s/&amp;/\&/g')
cookie=$(awk '$6 == "ag_csrf" {print $7}' "$work/jar")
wrong=$(python3 -c 'import sys; codes = open(sys.argv[1]).read().split()[2:]; print(next(str(d) * 6 for d in range(10) if str(d) * 6 not in codes))' "$work/codes")
body=$(python3 -c 'import sys, urllib.parse as u; print(u.urlencode({"csrf": sys.argv[1], "flow": "", "pending": sys.argv[2], "code": sys.argv[3]}))' "$csrf" "$pending" "$wrong")
cat >"$work/check.lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "ag_csrf=$cookie"
done = function(summary, latency, requests)
  io.write(string.format("RESULT checks=%d per_s=%.1f non_400=%d p50_ms=%.2f\n", summary.requests,
    summary.requests / (summary.duration / 1e6), summary.errors.status - summary.requests, latency:percentile(50) / 1000))
end
LUA
status=$(curl -s -o /dev/null -w '%{http_code}' -b "$work/jar" "http://127.0.0.1:$port/login/totp" --data "$body")
[ "$status" = 400 ] || { echo "a wrong code should answer 400, got $status"; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
out=$($load wrk -t1 -c4 -d"${secs}s" -s "$work/check.lua" "http://127.0.0.1:$port/login/totp" | grep RESULT)
after=$(cpu)
echo "${out/RESULT/totp_check}"
n=$(printf '%s' "$out" | sed -n 's/.*checks=\([0-9]*\).*/\1/p')
python3 -c "print(f'cpu_ms_per_check={1000 * ($after - $before) / $(getconf CLK_TCK) / max($n, 1):.3f}')"
