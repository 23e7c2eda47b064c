-- wrk script: refresh_token grants with rotation. Each thread gets its own refresh
-- tokens (TOKENS, comma-separated, split across threads); every response's new refresh
-- token replaces the one just used, so each token is presented exactly once.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local all = {}
  for t in string.gmatch(os.getenv("TOKENS"), "[^,]+") do table.insert(all, t) end
  local nthreads = tonumber(os.getenv("THREADS") or "2")
  queue = {}
  for i = 1, #all do
    if (i - 1) % nthreads == id then table.insert(queue, all[i]) end
  end
  client = os.getenv("CLIENT_ID")
end

request = function()
  local token = table.remove(queue, 1)
  if token == nil then token = "exhausted" end
  local body = "grant_type=refresh_token&client_id=" .. client .. "&refresh_token=" .. token
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

response = function(status, headers, body)
  local t = string.match(body, '"refresh_token":"([^"]+)"')
  if t then table.insert(queue, t) end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d (status %d, timeout %d, socket %d) rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, e.status, e.timeout, e.connect + e.read + e.write,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
