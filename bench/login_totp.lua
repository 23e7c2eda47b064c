-- wrk script: complete sign-ins with a password and an authenticator app's code, as a
-- browser does them:
--   GET  /oauth2/authorize (public client, PKCE S256)  -> 303 /login?flow=...
--   GET  /login?flow=...                               -> 200, CSRF cookie and token
--   POST /login (login ID + password)                  -> 200, the code form (sealed state)
--   POST /login/totp (the code)                        -> 303 resume, session cookie
--   GET  /oauth2/authorize/resume?flow=...             -> 303 redirect_uri?code=...
--   POST /oauth2/token (code + verifier)               -> 200 access + ID token (both RS256)
-- Run with one connection per thread (-t N -c N, BROWSERS=N). TOTP_CODES is the file
-- bench/enrol_totp.py wrote: the first step's number, then per user its login ID and its
-- codes for that step and the next ones. Each thread takes every Nth user in turn; a code
-- is accepted once per user and step, so a user whose next step is not open yet is skipped.
-- With WRONG_FIRST=1, a wrong code is submitted before the right one (400, the same form):
-- the difference between the two runs is the cost of checking one code.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local verifier = "bench-verifier-bench-verifier-bench-verifier-0123"
local challenge = os.getenv("CHALLENGE")
local client = os.getenv("CLIENT_ID")
local password = os.getenv("PASSWORD")
local redirect = "http%3A%2F%2F127.0.0.1%3A9%2Fcb"
local wrong_first = os.getenv("WRONG_FIRST") == "1"

function init(args)
  local n = tonumber(os.getenv("BROWSERS"))
  -- TOTP_PARTS disjoint shares of the users, one per kind of run (TOTP_PART).
  local parts, part = tonumber(os.getenv("TOTP_PARTS") or "1"), tonumber(os.getenv("TOTP_PART") or "0")
  mine = {}
  local lines = io.lines(os.getenv("TOTP_CODES"))
  first = tonumber(lines())
  local i = 0
  for line in lines do
    if i % (n * parts) == part * n + id then
      local fields = {}
      for f in string.gmatch(line, "%S+") do table.insert(fields, f) end
      table.insert(mine, {id = fields[1], codes = fields, last = first - 1})
    end
    i = i + 1
  end
  pos = 0
  step = 1
  logins = 0
  failures = 0
end

local function form(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- The next user whose next time step is open now, and the code for it.
local function next_user()
  local now = math.floor(os.time() / 30)
  for _ = 1, #mine do
    pos = pos % #mine + 1
    local u = mine[pos]
    local s = math.max(now, u.last + 1)
    -- The server accepts the current step and its neighbours, each once.
    if s <= now + 1 and u.codes[s - first + 2] then
      u.last = s
      -- A wrong code: none of the user's codes near this step.
      local near = {}
      for k = s - first + 1, s - first + 3 do near[u.codes[k] or ""] = true end
      wrong = "000000"
      for d = 0, 9 do
        wrong = string.rep(tostring(d), 6)
        if not near[wrong] then break end
      end
      return u.id, u.codes[s - first + 2]
    end
  end
  return nil
end

local function unescape(s)
  return (string.gsub(string.gsub(s, "&#x2f;", "/"), "&amp;", "&"))
end

request = function()
  local form_hdr = {["Content-Type"] = "application/x-www-form-urlencoded"}
  if step == 1 then
    login_id, otp = next_user()
    return wrk.format("GET", "/oauth2/authorize?response_type=code&scope=openid&client_id=" .. client ..
      "&redirect_uri=" .. redirect .. "&code_challenge=" .. challenge .. "&code_challenge_method=S256&state=s")
  elseif step == 2 then
    return wrk.format("GET", login_path)
  elseif step == 3 then
    form_hdr["Cookie"] = "ag_csrf=" .. csrf_cookie
    return wrk.format("POST", "/login", form_hdr,
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&login_id=" .. form(login_id) .. "&password=" .. form(password))
  elseif step == 4 or step == 7 then
    form_hdr["Cookie"] = "ag_csrf=" .. csrf_cookie
    return wrk.format("POST", "/login/totp", form_hdr,
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&pending=" .. form(pending) .. "&code=" .. (step == 7 and wrong or otp))
  elseif step == 5 then
    return wrk.format("GET", resume_path, {["Cookie"] = "ag_session=" .. session_cookie})
  else
    return wrk.format("POST", "/oauth2/token", form_hdr, "grant_type=authorization_code&client_id=" .. client ..
      "&redirect_uri=" .. redirect .. "&code_verifier=" .. verifier .. "&code=" .. form(code))
  end
end

local function restart()
  failures = failures + 1
  step = 1
end

response = function(status, headers, body)
  if step == 1 then
    login_path = headers["location"] or headers["Location"]
    if status ~= 303 or not login_path or not login_id then return restart() end
    step = 2
  elseif step == 2 then
    csrf = string.match(body, 'name="csrf" value="([^"]+)"')
    flow = string.match(body, 'name="flow" value="([^"]+)"')
    csrf_cookie = string.match(headers["set-cookie"] or "", "ag_csrf=([^;]+)")
    if status ~= 200 or not csrf or not flow or not csrf_cookie then return restart() end
    csrf, flow = unescape(csrf), unescape(flow)
    step = 3
  elseif step == 3 then
    pending = string.match(body, 'name="pending" value="([^"]+)"')
    if status ~= 200 or not pending then return restart() end
    pending = unescape(pending)
    step = wrong_first and 7 or 4
  elseif step == 7 then
    if status ~= 400 then return restart() end
    step = 4
  elseif step == 4 then
    session_cookie = string.match(headers["set-cookie"] or "", "ag_session=([^;]+)")
    resume_path = headers["location"]
    if status ~= 303 or not session_cookie or not resume_path then return restart() end
    step = 5
  elseif step == 5 then
    code = string.match(headers["location"] or "", "[?&]code=([^&]+)")
    if status ~= 303 or not code then return restart() end
    code = string.gsub(code, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    step = 6
  else
    if status == 200 and string.find(body, '"id_token"', 1, true) then logins = logins + 1 else failures = failures + 1 end
    step = 1
  end
end

done = function(summary, latency, requests)
  local total, failed = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("logins")
    failed = failed + t:get("failures")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT logins=%d failed_logins=%d logins_per_s=%.1f requests=%d rps=%.1f http_errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    total, failed, total / secs, summary.requests, summary.requests / secs,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
