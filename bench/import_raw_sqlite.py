"""The raw SQL bound on SQLite: the rows an import of N users writes (users, identities,
verified claims), inserted with executemany in 1,000-row transactions, no checks."""
import json
import sqlite3
import sys
import time
import uuid

path, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
start = time.time()
for base in range(0, n, 1000):
    users, idents, claims = [], [], []
    for i in range(base, min(base + 1000, n)):
        uid, email = str(uuid.uuid4()), f"user{i}@example.com"
        attrs = json.dumps({"name": f"User {i}", "email": email, "email_verified": True})
        users.append((uid, 0, 0, attrs, "{}", f"user {i}"))
        idents.append((str(uuid.uuid4()), uid, "login_id", "email", "email", email, email, email, 0, 0))
        claims.append((str(uuid.uuid4()), uid, "email", email, 0))
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO users (id, created_at, updated_at, standard_attributes, custom_attributes, name_key,"
        " is_disabled, is_deactivated, is_anonymous, is_anonymized) VALUES (?,?,?,?,?,?,0,0,0,0)", users)
    db.executemany(
        "INSERT INTO identities (id, user_id, kind, login_id_key, login_id_type, value, original_value,"
        " unique_key, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", idents)
    db.executemany("INSERT INTO verified_claims (id, user_id, name, value, created_at) VALUES (?,?,?,?,?)", claims)
    db.execute("COMMIT")
secs = time.time() - start
print(f"raw SQL bound (python sqlite3): {n} users in {secs:.1f}s = {n / secs:,.0f}/s")
