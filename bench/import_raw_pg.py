"""The raw SQL bound on PostgreSQL: the same rows as an import of N users (users,
identities, verified claims) generated and inserted by the server itself (INSERT ...
SELECT generate_series, 1,000 rows per transaction through psql), no checks."""
import subprocess
import sys
import time

db, n = sys.argv[1], int(sys.argv[2])
sql = ["\\set ON_ERROR_STOP on"]
for base in range(0, n, 1000):
    hi = min(base + 1000, n) - 1
    sql.append(f"""BEGIN;
WITH u AS (INSERT INTO users (id, created_at, updated_at, standard_attributes, custom_attributes, name_key,
  is_disabled, is_deactivated, is_anonymous, is_anonymized)
  SELECT gen_random_uuid(), 0, 0, jsonb_build_object('name', 'User ' || i, 'email', 'user' || i || '@example.com',
    'email_verified', true), '{{}}', 'user ' || i, false, false, false, false FROM generate_series({base}, {hi}) i
  RETURNING id, standard_attributes->>'email' AS email),
 i AS (INSERT INTO identities (id, user_id, kind, login_id_key, login_id_type, value, original_value, unique_key,
  created_at, updated_at) SELECT gen_random_uuid(), id, 'login_id', 'email', 'email', email, email, email, 0, 0 FROM u)
INSERT INTO verified_claims (id, user_id, name, value, created_at) SELECT gen_random_uuid(), id, 'email', email, 0 FROM u;
COMMIT;""")
start = time.time()
subprocess.run(["psql", "-qh", "127.0.0.1", "-U", "postgres", "-d", db], input="\n".join(sql), text=True, check=True,
               stdout=subprocess.DEVNULL)
secs = time.time() - start
print(f"raw SQL bound (psql, INSERT ... SELECT): {n} users in {secs:.1f}s = {n / secs:,.0f}/s")
