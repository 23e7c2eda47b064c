-- wrk script: failed logins (wrong password) at POST /login. Each costs one Argon2id
-- verification and an audit row, so its rate is the Argon2 ceiling seen through the server.
-- `non_401` counts the answers that were not 401 (a 429 of a rate limit, a 5xx): those
-- ran no hash, and the rate is then no ceiling.
local body = "csrf=" .. os.getenv("CSRF") .. "&flow=&login_id=" .. os.getenv("LOGIN_ID") .. "&password=wrong+password"
local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = "ag_csrf=" .. os.getenv("CSRF_COOKIE")}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  others = 0
end

request = function()
  return wrk.format("POST", "/login", headers, body)
end

response = function(status, headers, body)
  if status ~= 401 then others = others + 1 end
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local non_401 = 0
  for _, t in ipairs(threads) do non_401 = non_401 + t:get("others") end
  io.write(string.format("RESULT verifications=%d per_s=%.1f non_401=%d p50_ms=%.2f\n",
    summary.requests, summary.requests / secs, non_401, latency:percentile(50) / 1000))
end
