-- wrk script: failed logins (wrong password) at POST /login. Each costs one Argon2id
-- verification and an audit row, so its rate is the Argon2 ceiling seen through the server.
local body = "csrf=" .. os.getenv("CSRF") .. "&flow=&login_id=" .. os.getenv("LOGIN_ID") .. "&password=wrong+password"
local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = "ag_csrf=" .. os.getenv("CSRF_COOKIE")}

request = function()
  return wrk.format("POST", "/login", headers, body)
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT verifications=%d per_s=%.1f non_401=%d p50_ms=%.2f\n",
    summary.requests, summary.requests / secs, summary.errors.status - summary.requests, latency:percentile(50) / 1000))
end
