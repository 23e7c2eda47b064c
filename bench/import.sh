#!/usr/bin/env bash
# Bulk import throughput: `authgraph import` of N users (default 1,000,000) from NDJSON,
# without passwords and with bcrypt hashes (stored, not verified), on SQLite and on
# PostgreSQL, beside the raw SQL bound: the same rows (users, identities, role and group
# links) inserted by Python's sqlite3 / psql in 1,000-row transactions, with no checks.
#
# Usage: bench/import.sh [N]   (needs a release build: cargo build --profile dist, or BIN=path; PostgreSQL at
# 127.0.0.1:5432 with trust auth for the PostgreSQL half, skipped when psql is missing; no TLS on
# loopback, as the README advises for a database on the same machine)
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/dist/authgraph}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

python3 "$ROOT/bench/import_records.py" "$N" "$DIR/plain.ndjson" "$DIR/bcrypt.ndjson"

rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):,.0f}/s')" "$1" "$2"; }

run_import() { # db_url file label
  local url=$1 file=$2 label=$3
  "$BIN" --database-url "$url" migrate >/dev/null 2>&1
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$DIR/rss" env AUTHGRAPH_MASTER_KEY_FILE="$DIR/master.key" \
    "$BIN" --database-url "$url" import "$file" >/dev/null 2>"$DIR/log" || { cat "$DIR/log"; exit 1; }
  end=$(date +%s.%N)
  local secs
  secs=$(python3 -c "print($end - $start)")
  echo "$label: $N users in ${secs}s = $(rate "$N" "$secs"), max RSS $(( $(cat "$DIR/rss") / 1024 )) MB"
}

echo "== SQLite"
run_import "sqlite://$DIR/a.db?mode=rwc" "$DIR/plain.ndjson" "import, no passwords"
run_import "sqlite://$DIR/b.db?mode=rwc" "$DIR/bcrypt.ndjson" "import, bcrypt hashes"
"$BIN" --database-url "sqlite://$DIR/raw.db?mode=rwc" migrate >/dev/null 2>&1
python3 "$ROOT/bench/import_raw_sqlite.py" "$DIR/raw.db" "$N"

if command -v psql >/dev/null; then
  echo "== PostgreSQL"
  for db in bench_import_a bench_import_b bench_import_raw; do
    psql -qh 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  done
  run_import "postgres://postgres@127.0.0.1:5432/bench_import_a?sslmode=disable" "$DIR/plain.ndjson" "import, no passwords"
  run_import "postgres://postgres@127.0.0.1:5432/bench_import_b?sslmode=disable" "$DIR/bcrypt.ndjson" "import, bcrypt hashes"
  "$BIN" --database-url "postgres://postgres@127.0.0.1:5432/bench_import_raw?sslmode=disable" migrate >/dev/null 2>&1
  python3 "$ROOT/bench/import_raw_pg.py" bench_import_raw "$N"
fi
