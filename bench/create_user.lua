-- wrk script: one Admin API createUser per request, each with a new email (a prefix per
-- run and a counter), so that every request creates a user and fires `user.pre_create`.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local prefix = os.getenv("PREFIX") or tostring(os.time())
local n = 0

request = function()
  n = n + 1
  local body = '{"query":"mutation { createUser(input: {definition: {loginID: {key: \\"email\\", value: \\"' ..
    prefix .. "-" .. n .. '@example.com\\"}}}) { user { id } } }"}'
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d (status %d, timeout %d, socket %d) rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.2f\n",
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, e.status, e.timeout, e.connect + e.read + e.write,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
