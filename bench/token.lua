-- wrk script: client-credentials token requests. BASIC is "client_id:secret" already
-- base64-encoded; RESOURCE_ENC is the URL-encoded resource URI; SCOPE, when set, is sent
-- as the scope.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BASIC")
wrk.body = "grant_type=client_credentials&resource=" .. os.getenv("RESOURCE_ENC")
if os.getenv("SCOPE") then wrk.body = wrk.body .. "&scope=" .. os.getenv("SCOPE") end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d (status %d, timeout %d, socket %d) rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, e.status, e.timeout, e.connect + e.read + e.write,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
