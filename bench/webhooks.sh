#!/usr/bin/env bash
# Webhook delivery throughput: events delivered per second to a local receiver, on SQLite,
# with the server pinned to core 0 and the receiver to core 1.
#
# Method: the receiver answers 503 while N users are created (each `createUser` records a
# `user.created` event); with delivery_retry_hours = 0 every delivery fails once and is
# marked FAILED. Then the receiver switches to 200 and one `redeliverFailedWebhookDeliveries`
# puts all N back in the queue at once: the time until the receiver has counted N is the
# pure delivery time (claim, sign, POST, record the outcome).
#
# Usage: bench/webhooks.sh [N]   (default 20000; needs a release build: cargo build --profile dist)
set -euo pipefail
N=${1:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/dist/authgraph
DIR=$(mktemp -d)
RX_PORT=18099
SRV=127.0.0.1:18098
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$DIR"' EXIT

cat > "$DIR/authgraph.toml" <<TOML
database_url = "sqlite://$DIR/bench.db?mode=rwc"
master_key_file = "$DIR/master.key"
[log]
level = "warn"
[hook]
webhook_secret = "bench-secret-bench-secret-bench-secret"
delivery_retry_hours = 0
[[hook.non_blocking_handlers]]
events = ["user.created"]
url = "http://127.0.0.1:$RX_PORT/events"
TOML

taskset -c 1 python3 "$ROOT/bench/webhook_receiver.py" $RX_PORT &
(cd "$DIR" && exec taskset -c 0 "$BIN" --config "$DIR/authgraph.toml" --listen $SRV serve 2>"$DIR/server.log") &
for _ in $(seq 100); do curl -fs "http://$SRV/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(cd "$DIR" && "$BIN" --config "$DIR/authgraph.toml" --listen $SRV admin-token --ttl 1h)
gql() { curl -fs "http://$SRV/_api/admin/graphql" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$1"; }

echo "creating $N users (their user.created deliveries fail once and are marked FAILED)..."
python3 - "$N" "$SRV" "$TOKEN" <<'PY'
import json, sys, urllib.request, concurrent.futures
n, srv, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def batch(start):
    fields = " ".join(
        f'u{i}: createUser(input: {{definition: {{loginID: {{key: "email", value: "bench{i}@example.com"}}}}}}) {{ user {{ id }} }}'
        for i in range(start, min(start + 50, n)))
    req = urllib.request.Request(f"http://{srv}/_api/admin/graphql", data=json.dumps({"query": "mutation { " + fields + " }"}).encode(),
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})
    body = json.load(urllib.request.urlopen(req))
    assert "errors" not in body, body
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(batch, range(0, n, 50)))
PY
while :; do
  FAILED=$(gql '{"query":"{ webhookDeliveries(statuses: [FAILED]) { totalCount } }"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["webhookDeliveries"]["totalCount"])')
  [ "$FAILED" -ge "$N" ] && break
  sleep 0.5
done
curl -fs -X POST "http://127.0.0.1:$RX_PORT/mode/up" >/dev/null
START=$(date +%s.%N)
gql '{"query":"mutation { redeliverFailedWebhookDeliveries(input: {}) { count } }"}' >/dev/null
while :; do
  COUNT=$(curl -fs "http://127.0.0.1:$RX_PORT/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
  [ "$COUNT" -ge "$N" ] && break
  sleep 0.05
done
END=$(date +%s.%N)
python3 -c "import sys; n=$N; t=$END-$START; print(f'{n} events delivered in {t:.2f} s: {n/t:,.0f} events/s (server pinned to core 0, receiver to core 1)')"
