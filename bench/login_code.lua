-- wrk script: complete passwordless sign-ins with an email code, as a browser does them:
--   GET  /oauth2/authorize (public client, PKCE S256)   -> 303 /login?flow=...
--   GET  /login?flow=...                                -> 200, CSRF cookie and token
--   POST /login/code (the email address)                -> 200, the sealed "code sent" state
--   (the code is read from the email, which the server without SMTP writes to its log:
--    MAIL_LOG, JSON lines; every thread follows the file)
--   POST /login/code/verify (the code)                  -> 303 resume, session cookie
--   GET  /oauth2/authorize/resume?flow=...              -> 303 redirect_uri?code=...
--   POST /oauth2/token (code + verifier)                -> 200 access + ID token (both RS256)
-- With WRONG_FIRST=1, a wrong code is submitted before the right one (400, the same form),
-- so that the difference between the two runs is the cost of checking one code.
-- No Argon2 anywhere. Run with one connection per thread (-t N -c N); LOGIN_IDS_FILE's
-- lines are dealt out to the threads (BROWSERS of them) and each thread takes
-- its own in turn: with more addresses than sign-ins in the run, no address meets the
-- resend cooldown.
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
local redirect = "http%3A%2F%2F127.0.0.1%3A9%2Fcb"
local wrong_first = os.getenv("WRONG_FIRST") == "1"

function init(args)
  ids = {}
  for t in io.lines(os.getenv("LOGIN_IDS_FILE")) do table.insert(ids, t) end
  nth = id
  browsers = tonumber(os.getenv("BROWSERS"))
  mail = io.open(os.getenv("MAIL_LOG"), "r")
  codes = {}
  step = 1
  logins = 0
  failures = 0
end

local function form(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

request = function()
  local form_hdr = {["Content-Type"] = "application/x-www-form-urlencoded"}
  if step == 1 then
    nth = nth + browsers
    login_id = ids[(nth % #ids) + 1]
    return wrk.format("GET", "/oauth2/authorize?response_type=code&scope=openid&client_id=" .. client ..
      "&redirect_uri=" .. redirect .. "&code_challenge=" .. challenge .. "&code_challenge_method=S256&state=s")
  elseif step == 2 then
    return wrk.format("GET", login_path)
  elseif step == 3 then
    form_hdr["Cookie"] = "ag_csrf=" .. csrf_cookie
    return wrk.format("POST", "/login/code", form_hdr,
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&login_id=" .. form(login_id))
  elseif step == 4 or step == 5 then
    local c = otp
    if step == 4 then c = (otp == "000000") and "111111" or "000000" end
    form_hdr["Cookie"] = "ag_csrf=" .. csrf_cookie
    return wrk.format("POST", "/login/code/verify", form_hdr,
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&pending=" .. form(pending) .. "&code=" .. c)
  elseif step == 6 then
    return wrk.format("GET", resume_path, {["Cookie"] = "ag_session=" .. session_cookie})
  else
    return wrk.format("POST", "/oauth2/token", form_hdr, "grant_type=authorization_code&client_id=" .. client ..
      "&redirect_uri=" .. redirect .. "&code_verifier=" .. verifier .. "&code=" .. form(code))
  end
end

-- Reads the mail log written since the last call; remembers the latest code per address.
local function read_mail()
  mail:seek("cur") -- clears the end-of-file mark of the last read
  for line in mail:lines() do
    local to = string.match(line, '"to":"([^"]+)"')
    local code = string.match(line, '\\n    (%d+)\\n')
    if to and code then codes[to] = code end
  end
end

local function restart()
  failures = failures + 1
  step = 1
end

local function unescape(s)
  return (string.gsub(string.gsub(s, "&#x2f;", "/"), "&amp;", "&"))
end

response = function(status, headers, body)
  if step == 1 then
    login_path = headers["location"] or headers["Location"]
    if status ~= 303 or not login_path then return restart() end
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
    read_mail()
    otp = codes[login_id]
    codes[login_id] = nil
    if not otp then return restart() end
    step = wrong_first and 4 or 5
  elseif step == 4 then
    if status ~= 400 then return restart() end
    step = 5
  elseif step == 5 then
    session_cookie = string.match(headers["set-cookie"] or "", "ag_session=([^;]+)")
    resume_path = headers["location"]
    if status ~= 303 or not session_cookie or not resume_path then return restart() end
    step = 6
  elseif step == 6 then
    code = string.match(headers["location"] or "", "[?&]code=([^&]+)")
    if status ~= 303 or not code then return restart() end
    code = string.gsub(code, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    step = 7
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
