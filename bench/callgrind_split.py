"""Reads callgrind's per-thread dumps (--separate-threads=yes) of N logins: the threads
whose instructions are mostly Argon2 and BLAKE2 are the password-hash pool's, the others
serve the requests. Prints each group's instructions per login, the RSA arithmetic's share
of the request threads (AWS-LC's big-number functions), the schema loads of connections
used for the first time and the background polls of change generations (both left out of
the request work; a schema load inside a poll must not happen, or it is left out twice: the
server warms its readers once migrated), and the request threads' costliest
functions by their own instructions.

    python3 bench/callgrind_split.py N TOP FILE...
"""

import re
import sys
from collections import Counter


# The background poll of change generations (every 250 ms, whatever the load): under
# callgrind a run lasts seconds, and the polls' share of it varies with its length.
POLL = re.compile(r"spawn_change_watch|follow_changes")


def self_costs(path):
    """Each function's own instructions (calls' costs excluded) in one callgrind dump."""
    names, costs = {}, Counter()
    current, callee, in_call, schema, polls = None, None, False, 0, 0
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    current = names.get(m.group(1), m.group(1))
                else:
                    current = line[3:].rstrip("\n")
            elif line.startswith("calls="):
                in_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if in_call:
                    in_call = False
                    if callee == "sqlite3Init" and current != "sqlite3Init":
                        schema += int(parts[1])
                    elif callee and POLL.search(callee) and not POLL.search(current or ""):
                        polls += int(parts[1])
                elif current is not None and len(parts) >= 2:
                    costs[current] += int(parts[1])
            elif line.startswith(("cfn=", "cfi=", "cfl=", "cob=")):
                m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    callee = names.get(m.group(1))
    return costs, schema, polls


n, top = int(sys.argv[1]), int(sys.argv[2])
hashing, request, schema, background = 0, Counter(), 0, 0
for path in sys.argv[3:]:
    costs, loads, polls = self_costs(path)
    total = sum(costs.values())
    hash_part = sum(c for name, c in costs.items() if re.search(r"argon2|blake2", name))
    if total and hash_part > total / 2:
        hashing += total
    else:
        request.update(costs)
        schema += loads
        background += polls
work = sum(request.values())
rsa = sum(c for name, c in request.items() if re.search(r"aws_lc_\w*(rsaz|bn_)|bn_cmp_words", name))
# A connection reads the schema when it first needs it or finds it changed: a one-off
# cost that lands in the window when a login happens to be the first to use a connection.
print(f"logins={n} hash_threads_per_login={hashing // n} request_threads_per_login={work // n} "
      f"of_which_rsa={rsa // n} schema_loads={schema // n} change_polls={background // n} "
      f"request_without_rsa={(work - rsa - schema - background) // n}")
for name, cost in request.most_common(top):
    print(f"  {cost // n:>10} {name[:150]}")
