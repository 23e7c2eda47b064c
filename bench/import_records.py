"""Writes N import records as NDJSON: one file without passwords, one with bcrypt hashes."""
import json
import sys

n, plain, hashed = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# A well-formed bcrypt hash (cost 10); an import stores it without verifying it.
BCRYPT = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
with open(plain, "w") as a, open(hashed, "w") as b:
    for i in range(n):
        rec = {"email": f"user{i}@example.com", "name": f"User {i}", "email_verified": True}
        a.write(json.dumps(rec) + "\n")
        rec["password"] = {"type": "bcrypt", "password_hash": BCRYPT}
        b.write(json.dumps(rec) + "\n")
