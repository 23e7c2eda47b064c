#!/usr/bin/env bash
# Instructions the server executes per complete password login beyond its Argon2 hash,
# counted by valgrind's callgrind: the count is the same from run to run whatever else the
# machine does, so two builds compare where the share of the Argon2 ceiling
# (bench/login.sh) moves by ten points between runs. The server runs under callgrind;
# after WARM logins its counts are zeroed, N logins run (bench/login_client.py: the
# authorization request, which answers with the login page, the password, the code's exchange), and the
# counts are dumped. Instructions in Argon2 and BLAKE2 functions are the hash's; the rest
# is the request work this prints per login, with the functions that cost most.
#
#   BIN=target/dist/authgraph bench/login_instructions.sh sqlite:///tmp/bench/li.db 20
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
n=${2:-20}
warm=${WARM:-3}
port=${PORT:-3979}
export AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_IP_PER_MINUTE=0 AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE=0
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
cg=$(mktemp -d)
SERVER_WRAP="valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=$cg/cg.out"
source bench/server.sh
trap 'kill $pid 2>/dev/null; rm -rf "$work" "$cg"' EXIT
password="bench password 42"
email="li$(date +%s%N)@example.com"
gql 'mutation($e: String!, $p: String!) { createUser(input: {definition: {loginID: {key: "email", value: $e}}, password: $p}) { user { id } } }' "{\"e\": \"$email\", \"p\": \"$password\"}" >/dev/null
client=$(gql 'mutation { createApplication(input: {name: "login instructions", type: SPA, redirectURIs: ["http://127.0.0.1:9/cb"]}) { application { clientID } } }' '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createApplication"]["application"]["clientID"])')
python3 bench/login_client.py "$port" "$client" "$email" "$password" "$warm" >/dev/null
callgrind_control -z "$pid" >/dev/null
python3 bench/login_client.py "$port" "$client" "$email" "$password" "$n" >/dev/null
callgrind_control -d "$pid" >/dev/null
python3 bench/callgrind_split.py "$n" "${TOP:-25}" "$cg"/cg.out.*
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$cg"/cg.out.* "$KEEP"/; fi
