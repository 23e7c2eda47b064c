-- wrk script: POSTs a GraphQL request to the Admin API.
-- BODY is the JSON request; if it contains KEYWORD, each request gets a random
-- "user<n>" prefix there, n uniform in [KW_MIN, KW_MAX]. With the seed data, n >= 1000
-- matches at most 111 users; n < 1000 matches 1,111 to 111,111 users.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local body = os.getenv("BODY")
local kw_min = tonumber(os.getenv("KW_MIN") or "1000")
local kw_max = tonumber(os.getenv("KW_MAX") or os.getenv("USERS") or "1000000")
math.randomseed(os.time())

request = function()
  if string.find(body, "KEYWORD", 1, true) then
    local kw = "user" .. math.random(kw_min, kw_max)
    return wrk.format(nil, nil, nil, (string.gsub(body, "KEYWORD", kw)))
  end
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d (status %d, timeout %d, socket %d) rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, e.status, e.timeout, e.connect + e.read + e.write,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
