-- wrk script: complete passwordless sign-ins with an email code, as a browser does them:
--   GET  /oauth2/authorize (public client, PKCE S256)   -> 200 the login page, CSRF cookie and token
--   POST /login/code (the email address)                -> 200, the sealed "code sent" state
--   (the code is read from the email, which the server without SMTP writes to its log:
--    MAIL_LOG, JSON lines; every thread follows the file)
--   POST /login/code/verify (the code)                  -> 303 redirect_uri?code=..., session cookie
--   POST /oauth2/token (code + verifier)                -> 200 access + ID token (both RS256)
-- With WRONG_FIRST=1, a wrong code is submitted before the right one (400, the same form),
-- so that the difference between the two runs is the cost of checking one code.
-- No Argon2 anywhere. Run with one connection per thread (-t N -c N); LOGIN_IDS_FILE's
-- lines are dealt out to the threads (BROWSERS of them) and each thread takes
-- its own in turn: with more addresses than sign-ins in the run, no address meets the
-- resend cooldown.
dofile("bench/browser.lua")

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

request = function()
  if step == 1 then
    nth = nth + browsers
    login_id = ids[(nth % #ids) + 1]
    return authorize_request()
  elseif step == 3 then
    return wrk.format("POST", "/login/code", {["Content-Type"] = form_type, ["Cookie"] = "ag_csrf=" .. csrf_cookie},
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&login_id=" .. form(login_id))
  elseif step == 4 or step == 5 then
    local c = otp
    if step == 4 then c = (otp == "000000") and "111111" or "000000" end
    return wrk.format("POST", "/login/code/verify", {["Content-Type"] = form_type, ["Cookie"] = "ag_csrf=" .. csrf_cookie},
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&pending=" .. form(pending) .. "&code=" .. c)
  else
    return token_request(code)
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

response = function(status, headers, body)
  if step == 1 then
    csrf, flow, csrf_cookie = login_page(status, headers, body)
    if not csrf then return restart() end
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
    code = code_of(status, headers)
    if not code or not string.find(headers["set-cookie"] or "", "ag_session=", 1, true) then return restart() end
    step = 6
  else
    count_tokens(status, body)
    step = 1
  end
end
