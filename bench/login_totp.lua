-- wrk script: complete sign-ins with a password and an authenticator app's code, as a
-- browser does them:
--   GET  /oauth2/authorize (public client, PKCE S256)  -> 200 the login page, CSRF cookie and token
--   POST /login (login ID + password)                  -> 200, the code form (sealed state)
--   POST /login/totp (the code)                        -> 303 redirect_uri?code=..., session cookie
--   POST /oauth2/token (code + verifier)               -> 200 access + ID token (both RS256)
-- Run with one connection per thread (-t N -c N, BROWSERS=N). TOTP_CODES is the file
-- bench/enrol_totp.py wrote: the first step's number, then per user its login ID and its
-- codes for that step and the next ones. Each thread takes every Nth user in turn; a code
-- is accepted once per user and step, so a user whose next step is not open yet is skipped.
dofile("bench/browser.lua")

local password = os.getenv("PASSWORD")

function init(args)
  local n = tonumber(os.getenv("BROWSERS"))
  mine = {}
  local lines = io.lines(os.getenv("TOTP_CODES"))
  first = tonumber(lines())
  local i = 0
  for line in lines do
    if i % n == id then
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
      return u.id, u.codes[s - first + 2]
    end
  end
  return nil
end

request = function()
  if step == 1 then
    login_id, otp = next_user()
    return authorize_request()
  elseif step == 3 then
    return wrk.format("POST", "/login", {["Content-Type"] = form_type, ["Cookie"] = "ag_csrf=" .. csrf_cookie},
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&login_id=" .. form(login_id) .. "&password=" .. form(password))
  elseif step == 4 then
    return wrk.format("POST", "/login/totp", {["Content-Type"] = form_type, ["Cookie"] = "ag_csrf=" .. csrf_cookie},
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&pending=" .. form(pending) .. "&code=" .. otp)
  else
    return token_request(code)
  end
end

local function restart()
  failures = failures + 1
  step = 1
end

response = function(status, headers, body)
  if step == 1 then
    csrf, flow, csrf_cookie = login_page(status, headers, body)
    if not csrf or not login_id then return restart() end
    step = 3
  elseif step == 3 then
    pending = string.match(body, 'name="pending" value="([^"]+)"')
    if status ~= 200 or not pending then return restart() end
    pending = unescape(pending)
    step = 4
  elseif step == 4 then
    code = code_of(status, headers)
    if not code or not string.find(headers["set-cookie"] or "", "ag_session=", 1, true) then return restart() end
    step = 5
  else
    count_tokens(status, body)
    step = 1
  end
end
