-- wrk script: POSTs a GraphQL request to the Admin API.
-- BODY is the JSON request; if it contains KEYWORD, each request gets a random
-- "user<n>" prefix there (a search that matches a handful of users).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local body = os.getenv("BODY")
local users = tonumber(os.getenv("USERS") or "1000000")
math.randomseed(os.time())

request = function()
  if string.find(body, "KEYWORD", 1, true) then
    local kw = "user" .. math.random(1, users)
    return wrk.format(nil, nil, nil, (string.gsub(body, "KEYWORD", kw)))
  end
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
