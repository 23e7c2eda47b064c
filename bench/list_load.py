"""Sends N users-list requests (users(first: 50) with roles and groups) over 4 keep-alive
connections and checks each answer; used by bench/cpu_per_request.sh.

    python3 bench/list_load.py PORT TOKEN N

QUERY=<GraphQL document> sends that document instead (to see what each part of the
selection costs).
"""
import http.client
import json
import os
import sys
import threading

port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = json.dumps({"query": os.environ.get("QUERY") or "{ users(first: 50) { edges { node { id standardAttributes "
                   "roles { edges { node { key } } } groups { edges { node { key } } } } } } }"})
headers = {"Authorization": "Bearer " + token, "content-type": "application/json"}


def worker(count):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(count):
        conn.request("POST", "/_api/admin/graphql", body, headers)
        res = conn.getresponse()
        data = res.read()
        assert res.status == 200 and b'"errors"' not in data, data[:200]


threads = [threading.Thread(target=worker, args=(n // 4,)) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
