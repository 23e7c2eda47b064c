#!/usr/bin/env bash
# Export benchmark: 1,000,000 users (bench/seed.sh: an email identity, a name, one role,
# one group each) exported as NDJSON and CSV, through the CLI and through the signed
# download link of the HTTP API, with the release build. Prints users/s and the peak
# resident memory (RSS) of the process that streams.
#
#   cargo build --profile dist
#   bench/export.sh sqlite:///tmp/bench/export.db [users]
#   bench/export.sh postgres://postgres@127.0.0.1:5432/agexport [users]
#
# The database is seeded when it holds no users yet (PostgreSQL: create it first).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?database URL}
n=${2:-1000000}
bin=${BIN:-target/dist/authgraph}
port=${PORT:-3901}
work=$(mktemp -d)
export AUTHGRAPH_DATABASE_URL="$url" AUTHGRAPH_MASTER_KEY_FILE="${MASTER_KEY_FILE:-bench/bench.master.key}" AUTHGRAPH_LOG__LEVEL=warn
export AUTHGRAPH_PUBLIC_URL="http://127.0.0.1:$port"
trap 'kill ${pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" migrate >/dev/null 2>&1
count() {
  case "$url" in
  sqlite:*) f=${url#sqlite://}; sqlite3 "${f%%\?*}" "SELECT COUNT(*) FROM users" ;;
  *) psql -tA "$url" -c "SELECT COUNT(*) FROM users" ;;
  esac
}
if [ "$(count)" = 0 ]; then
  s=$(date +%s)
  bench/seed.sh "$url" "$n"
  echo "seeded $n users in $(( $(date +%s) - s ))s"
fi
users=$(count)
echo "users=$users"

# Peak RSS (KiB) of a command, from GNU time; its stdout goes to $2.
peak() {
  local out=$1; shift
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >"$out" 2>"$work/stderr" || { cat "$work/stderr"; exit 1; }
  cat "$work/rss"
}

for format in ndjson csv; do
  s=$(date +%s%N)
  rss=$(peak "$work/out.$format" "$bin" export --format "$format")
  ms=$(( ($(date +%s%N) - s) / 1000000 ))
  lines=$(wc -l <"$work/out.$format")
  echo "cli_$format users=$users lines=$lines bytes=$(stat -c %s "$work/out.$format") ms=$ms users_per_s=$(( users * 1000 / (ms > 0 ? ms : 1) )) peak_rss_kb=$rss"
done

# Through HTTP: the server streams the download link; its RSS is sampled while it does.
"$bin" admin-token >/dev/null
"$bin" --listen "127.0.0.1:$port" serve 2>"$work/server.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }; sleep 0.01; done
TOKEN=$("$bin" admin-token --scope user:read --ttl 1h)
idle=$(ps -o rss= -p $pid)
for format in ndjson csv; do
  link=$(curl -sf "http://127.0.0.1:$port/_api/admin/users/export" -H "Authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "{\"format\": \"$format\"}" | sed 's/.*"download_url":"\([^"]*\)".*/\1/')
  max=0
  s=$(date +%s%N)
  curl -sf "$link" -o "$work/http.$format" &
  cpid=$!
  while kill -0 $cpid 2>/dev/null; do
    r=$(ps -o rss= -p $pid); [ "$r" -gt "$max" ] && max=$r; sleep 0.05
  done
  wait $cpid
  ms=$(( ($(date +%s%N) - s) / 1000000 ))
  echo "http_$format users=$users lines=$(wc -l <"$work/http.$format") ms=$ms users_per_s=$(( users * 1000 / (ms > 0 ? ms : 1) )) server_idle_rss_kb=$idle server_peak_rss_kb=$max"
done
