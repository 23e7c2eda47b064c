#!/usr/bin/env bash
# Complete logins per second (authorize -> login form -> code -> token), issue #4.
#
#   cargo build --profile dist
#   [ROUNDS=3] bench/login.sh sqlite:///tmp/bench/login.db [seconds] [browsers]
#
# Creates users with passwords and a SPA through the Admin API, then runs wrk
# (bench/login.lua) with one connection per browser; each login is three requests and one
# Argon2id verification. Also prints the Argon2 ceiling: verifications per second on
# all cores: failed logins at the same concurrency, each one Argon2id verification.
# `rsa_limited_share_pct` is the highest share this machine allows: the two RSA signatures
# of a login, next to the work of a failed verification (below).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
secs=${2:-20}
browsers=${3:-4}
port=${PORT:-3921}
# The ceiling run below fails logins on purpose, from one address: no rate limits here.
export AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_IP_PER_MINUTE=0 AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE=0
# shellcheck source=bench/server.sh
source bench/server.sh
password="bench password 42"
stamp=$(date +%s%N)
ids=""
for i in $(seq 1 "$browsers"); do
  email="login$stamp-$i@example.com"
  gql 'mutation($e: String!, $p: String!) { createUser(input: {definition: {loginID: {key: "email", value: $e}}, password: $p}) { user { id } } }' "{\"e\": \"$email\", \"p\": \"$password\"}" >/dev/null
  ids="$ids${ids:+,}$email"
done
client=$(gql 'mutation { createApplication(input: {name: "login bench", type: SPA, redirectURIs: ["http://127.0.0.1:9/cb"]}) { application { clientID } } }' '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
challenge=$(python3 -c 'import base64,hashlib; print(base64.urlsafe_b64encode(hashlib.sha256(b"bench-verifier-bench-verifier-bench-verifier-0123").digest()).rstrip(b"=").decode())')
# The Argon2 ceiling through the same server: wrong-password logins, same concurrency.
page=$(curl -s -c "$work/jar" "http://127.0.0.1:$port/login")
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
cookie=$(awk '$6 == "ag_csrf" {print $7}' "$work/jar")
first=${ids%%,*}
# CPU seconds the server has used so far, as "hash_threads other_threads" (from /proc: the
# password-hash threads, and all the others, which serve the requests).
cpu() {
  python3 - "$pid" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
hashing = other = 0
for t in os.listdir(f"/proc/{sys.argv[1]}/task"):
    try:
        comm = open(f"/proc/{sys.argv[1]}/task/{t}/comm").read().strip()
        f = open(f"/proc/{sys.argv[1]}/task/{t}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    used = (int(f[11]) + int(f[12])) / tick
    if comm.startswith("password-hash"):
        hashing += used
    else:
        other += used
print(hashing, other)
PY
}
# The CPU milliseconds per login (or verification) between two `cpu` readings.
per() {
  python3 -c 'import re,sys; a=sys.argv[1].split(); b=sys.argv[2].split(); n=float(re.search(r"(?:logins|verifications)=([0-9]+)", sys.argv[3]).group(1)) or 1; print("cpu_ms_each: hash_threads=%.2f request_threads=%.2f" % ((float(b[0])-float(a[0]))*1000/n, (float(b[1])-float(a[1]))*1000/n))' "$1" "$2" "$3"
}
# ROUNDS (default 1) alternates logins and the ceiling, so that each share compares runs a
# few seconds apart on a machine whose speed drifts; the last two lines have the medians.
shares=""
ratios=""
verifications=""
for _ in $(seq 1 "${ROUNDS:-1}"); do
  before=$(cpu)
  out=$(LOGIN_IDS=$ids PASSWORD=$password CLIENT_ID=$client CHALLENGE=$challenge \
    wrk -t"$browsers" -c"$browsers" -d"${secs}s" -s bench/login.lua "http://127.0.0.1:$port" | grep RESULT | sed "s/^RESULT/login/")
  after=$(cpu)
  echo "$out"
  each=$(per "$before" "$after" "$out")
  echo "  login $each"
  # The request threads' CPU per login over the hash threads' in the same run: the hash
  # is the same work in every run, so this ratio cancels the machine's speed of the moment
  # (steadier than the share below on a machine whose speed drifts between runs).
  ratios="$ratios $(python3 -c 'import re,sys; h,r=map(float,re.findall(r"=([0-9.]+)",sys.argv[1])); print(round(r/h,4))' "$each")"
  echo "rss_after_run_kb=$(ps -o rss= -p $pid)"
  ceiling=$(CSRF=$csrf CSRF_COOKIE=$cookie LOGIN_ID=${first/@/%40} \
    wrk -t"$browsers" -c"$browsers" -d"${secs}s" -s bench/login_fail.lua "http://127.0.0.1:$port" | grep RESULT | sed "s/^RESULT/argon2_ceiling/")
  before=$(cpu)
  echo "$ceiling"
  veach=$(per "$after" "$before" "$ceiling")
  echo "  verification $veach"
  verifications="$verifications $(python3 -c 'import re,sys; print(sum(map(float, re.findall(r"=([0-9.]+)", sys.argv[1]))))' "$veach")"
  share=$(python3 -c 'import re,sys; l=float(re.search(r"logins_per_s=([0-9.]+)", sys.argv[1]).group(1)); c=float(re.search(r"per_s=([0-9.]+)", sys.argv[2]).group(1)); print(round(100*l/c, 1))' "$out" "$ceiling")
  shares="$shares $share"
done
echo "request_per_hash_cpu=$(python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' $ratios) runs:$ratios"
echo "share_of_ceiling_pct=$(python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' $shares) runs:$shares"
# The share the logins would reach if a login's work beyond a failed verification's were
# only its two RSA-2048 signatures (the access token and the ID token), at the rate that
# `openssl speed` signs on both cores now: the limit of this measure on this machine. A
# host whose RSA is slow next to its Argon2 has a lower one (docs/benchmarks.md, 2026-12-06).
signs=$(openssl speed -seconds 3 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}')
echo "rsa_signs_per_s_both_cores=$signs rsa_limited_share_pct=$(python3 -c 'import statistics,sys; v=statistics.median(map(float, sys.argv[2:])); s=2*2000/float(sys.argv[1]); print(round(100*v/(v+s),1))' "$signs" $verifications)"
if grep -q "ERROR\|WARN" "$work/server.log"; then echo "server warnings/errors:"; grep "ERROR\|WARN" "$work/server.log" | tail -5; fi
