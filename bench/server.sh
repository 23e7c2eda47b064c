# Sourced by the load scripts (bench/tokens.sh, refresh.sh, login.sh) after they set `url`
# and `port` (and PUBLIC_URL, if not http://127.0.0.1:port): starts the release server on that database (BIN overrides the binary), waits
# until it is ready, mints an Admin API token into TOKEN, defines `gql QUERY VARIABLES`,
# and stops the server when the script exits. Leaves `bin`, `pid` and `work` set.
# PIN=1 pins the server to core 0 and sets `load` to run the load generator on core 1
# (`$load wrk ...`); otherwise both share the machine. SERVER_WRAP runs the server under a
# tool (`valgrind --tool=callgrind ...`): its words go before the binary.
bin=${BIN:-target/dist/authgraph}
work=$(mktemp -d)
export AUTHGRAPH_DATABASE_URL="$url" AUTHGRAPH_MASTER_KEY_FILE="${MASTER_KEY_FILE:-bench/bench.master.key}" AUTHGRAPH_LOG__LEVEL=warn
export AUTHGRAPH_PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$port}"
server_pin=() load=""
if [ "${PIN:-}" = 1 ]; then server_pin=(taskset -c 0) load="taskset -c 1"; fi
# shellcheck disable=SC2086 # SERVER_WRAP is words on purpose
"${server_pin[@]}" ${SERVER_WRAP:-} "$bin" --listen "127.0.0.1:$port" serve 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.02
done
TOKEN=$("$bin" --listen "127.0.0.1:$port" admin-token --ttl 1h)
gql() {
  curl -sf "http://127.0.0.1:$port/_api/admin/graphql" -H "Authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "$2")"
}
