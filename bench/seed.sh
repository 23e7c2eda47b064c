#!/usr/bin/env bash
# Seeds N users, each with an email identity, a name, one direct role and one group
# (10 groups with 2 roles each, 20 roles), straight into the database with set-based SQL.
# The schema must exist: `authgraph migrate` first.
#
# User IDs are time-ordered (UUIDv7, from each user's creation time) as the server mints
# them; IDS=random gives random ones instead, as users imported with their own IDs have.
#
#   bench/seed.sh sqlite://bench.db 1000000
#   bench/seed.sh postgres://postgres@127.0.0.1:5432/agbench 1000000
set -euo pipefail
url=${1:?database URL}
n=${2:-1000000}
now_us=$(( $(date +%s) * 1000000 ))

case "$url" in
sqlite:*)
  file=${url#sqlite://}
  file=${file%%\?*}
  # Python's sqlite3 module, for a UUIDv7 function (the sqlite3 shell has no way to
  # build a blob from a number).
  ids=${IDS:-v7}
  python3 -c '
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
def v7(us):
    b = bytearray((us // 1000).to_bytes(6, "big") + os.urandom(10))
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    return bytes(b)
db.create_function("v7", 1, v7, deterministic=False)
db.executescript(sys.stdin.read())
' "$file" <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
BEGIN;
INSERT INTO roles (id, key, name, description, created_at, updated_at)
  WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 19)
  SELECT randomblob(16), 'role_' || i, 'Role ' || i, NULL, $now_us, $now_us FROM s;
INSERT INTO groups (id, key, name, description, created_at, updated_at)
  WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 9)
  SELECT randomblob(16), 'group_' || i, 'Group ' || i, NULL, $now_us, $now_us FROM s;
INSERT INTO group_roles (group_id, role_id, created_at)
  SELECT g.id, r.id, $now_us FROM groups g JOIN roles r
    ON CAST(substr(r.key, 6) AS INTEGER) % 10 = CAST(substr(g.key, 7) AS INTEGER);
CREATE TEMP TABLE seq AS
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
  SELECT i, CASE '$ids' WHEN 'random' THEN randomblob(16) ELSE v7($now_us - ($n - i) * 1000) END AS id FROM s;
INSERT INTO users (id, created_at, updated_at, last_login_at, standard_attributes, custom_attributes, name_key,
                   is_disabled, is_deactivated, is_anonymous, is_anonymized)
  SELECT id, $now_us - ($n - i) * 1000, $now_us - ($n - i) * 1000,
         CASE WHEN i % 3 = 0 THEN $now_us - i * 7 ELSE NULL END,
         json_object('email', 'user' || i || '@example.com', 'email_verified', json('false'),
                     'given_name', 'First' || i, 'family_name', 'Last'),
         '{}', 'first' || i || ' last', i % 100 = 0, 0, 0, 0
  FROM seq;
INSERT INTO identities (id, user_id, kind, login_id_key, login_id_type, value, original_value, unique_key, created_at, updated_at)
  SELECT randomblob(16), id, 'login_id', 'email', 'email', 'user' || i || '@example.com', 'user' || i || '@example.com',
         'user' || i || '@example.com', $now_us, $now_us FROM seq;
INSERT INTO user_roles (user_id, role_id, created_at)
  SELECT s.id, r.id, $now_us FROM seq s JOIN roles r ON r.key = 'role_' || (s.i % 20);
INSERT INTO user_groups (user_id, group_id, created_at)
  SELECT s.id, g.id, $now_us FROM seq s JOIN groups g ON g.key = 'group_' || (s.i % 10);
COMMIT;
ANALYZE;
SQL
  ;;
postgres*)
  psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
SET synchronous_commit = off;
BEGIN;
INSERT INTO roles (id, key, name, created_at, updated_at)
  SELECT gen_random_uuid(), 'role_' || i, 'Role ' || i, $now_us, $now_us FROM generate_series(0, 19) i;
INSERT INTO groups (id, key, name, created_at, updated_at)
  SELECT gen_random_uuid(), 'group_' || i, 'Group ' || i, $now_us, $now_us FROM generate_series(0, 9) i;
INSERT INTO group_roles (group_id, role_id, created_at)
  SELECT g.id, r.id, $now_us FROM groups g JOIN roles r
    ON substr(r.key, 6)::int % 10 = substr(g.key, 7)::int;
CREATE TEMP TABLE seq AS SELECT i, CASE '${IDS:-v7}' WHEN 'random' THEN gen_random_uuid() ELSE
  (lpad(to_hex(($now_us - ($n - i) * 1000) / 1000), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8'
   || substr(md5(random()::text), 1, 15))::uuid END AS id FROM generate_series(1, $n) i;
INSERT INTO users (id, created_at, updated_at, last_login_at, standard_attributes, custom_attributes, name_key,
                   is_disabled, is_deactivated, is_anonymous, is_anonymized)
  SELECT id, $now_us - ($n - i) * 1000, $now_us - ($n - i) * 1000,
         CASE WHEN i % 3 = 0 THEN $now_us - i * 7 END,
         jsonb_build_object('email', 'user' || i || '@example.com', 'email_verified', false,
                            'given_name', 'First' || i, 'family_name', 'Last'),
         '{}'::jsonb, 'first' || i || ' last', i % 100 = 0, false, false, false
  FROM seq;
INSERT INTO identities (id, user_id, kind, login_id_key, login_id_type, value, original_value, unique_key, created_at, updated_at)
  SELECT gen_random_uuid(), id, 'login_id', 'email', 'email', 'user' || i || '@example.com', 'user' || i || '@example.com',
         'user' || i || '@example.com', $now_us, $now_us FROM seq;
INSERT INTO user_roles (user_id, role_id, created_at)
  SELECT s.id, r.id, $now_us FROM seq s JOIN roles r ON r.key = 'role_' || (s.i % 20);
INSERT INTO user_groups (user_id, group_id, created_at)
  SELECT s.id, g.id, $now_us FROM seq s JOIN groups g ON g.key = 'group_' || (s.i % 10);
COMMIT;
VACUUM ANALYZE;
SQL
  ;;
*) echo "unsupported database URL: $url" >&2; exit 2 ;;
esac
echo "seeded $n users into $url"
