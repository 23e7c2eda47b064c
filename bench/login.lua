-- wrk script: complete browser logins, one per three requests, as a browser does them:
--   GET  /oauth2/authorize (public client, PKCE S256)  -> 200 the login page, CSRF cookie and token
--   POST /login (login ID + password)                  -> 303 redirect_uri?code=..., session cookie
--   POST /oauth2/token (code + verifier)               -> 200 access + ID token (both RS256)
-- Run with one connection per thread (-t N -c N): each thread is one browser, and every
-- login starts without cookies. LOGIN_IDS (comma-separated) are spread over threads.
dofile("bench/browser.lua")

local password = os.getenv("PASSWORD")

function init(args)
  local ids = {}
  for t in string.gmatch(os.getenv("LOGIN_IDS"), "[^,]+") do table.insert(ids, t) end
  login_id = ids[(id % #ids) + 1]
  step = 1
  logins = 0
  failures = 0
end

request = function()
  if step == 1 then
    return authorize_request()
  elseif step == 3 then
    return wrk.format("POST", "/login", {["Content-Type"] = form_type, ["Cookie"] = "ag_csrf=" .. csrf_cookie},
      "csrf=" .. csrf .. "&flow=" .. form(flow) .. "&login_id=" .. form(login_id) .. "&password=" .. form(password))
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
    if not csrf then return restart() end
    step = 3
  elseif step == 3 then
    code = code_of(status, headers)
    if not code or not string.find(headers["set-cookie"] or "", "ag_session=", 1, true) then return restart() end
    step = 4
  else
    count_tokens(status, body)
    step = 1
  end
end
