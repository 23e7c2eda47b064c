-- wrk script: anonymous-request grants of returning anonymous users, each body (a JWT over
-- a single-use challenge) sent once. bench/anonymous_jwts.py writes BODIES.<thread id>.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BODIES") .. "." .. id) do
    table.insert(bodies, line)
  end
  next_body = 1
  ok = 0
  failures = 0
end

function request()
  local b = bodies[next_body] or bodies[#bodies]
  next_body = next_body + 1
  return wrk.format("POST", "/oauth2/token", {["Content-Type"] = "application/x-www-form-urlencoded"}, b)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else failures = failures + 1 end
end

function done(summary, latency, requests)
  local granted, failed, unused = 0, 0, 0
  for _, t in ipairs(threads) do
    granted = granted + t:get("ok")
    failed = failed + t:get("failures")
  end
  io.write(string.format("RESULT grants=%d failed=%d grants_per_s=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    granted, failed, granted / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
