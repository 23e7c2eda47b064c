-- Shared by the wrk scripts that sign in as a browser does (login.lua, login_code.lua,
-- login_totp.lua), loaded with dofile("bench/browser.lua") (wrk runs from the repository's
-- root): one thread per browser, the OAuth steps around the sign-in, and the RESULT line.
-- Each script keeps its own `request` and `response` and counts `logins` and `failures`.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

verifier = "bench-verifier-bench-verifier-bench-verifier-0123"
challenge = os.getenv("CHALLENGE") -- BASE64URL(SHA256(verifier)), computed by the shell script
client = os.getenv("CLIENT_ID")
redirect = "http%3A%2F%2F127.0.0.1%3A9%2Fcb"
form_type = "application/x-www-form-urlencoded"

-- A form value, percent-encoded.
function form(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- An attribute value as the server's templates escape it.
function unescape(s)
  return (string.gsub(string.gsub(s, "&#x2f;", "/"), "&amp;", "&"))
end

-- GET /oauth2/authorize (public client, PKCE S256).
function authorize_request()
  return wrk.format("GET", "/oauth2/authorize?response_type=code&scope=openid&client_id=" .. client ..
    "&redirect_uri=" .. redirect .. "&code_challenge=" .. challenge .. "&code_challenge_method=S256&state=s")
end

-- POST /oauth2/token: the code and the verifier.
function token_request(code)
  return wrk.format("POST", "/oauth2/token", {["Content-Type"] = form_type}, "grant_type=authorization_code&client_id=" ..
    client .. "&redirect_uri=" .. redirect .. "&code_verifier=" .. verifier .. "&code=" .. form(code))
end

-- The login page's CSRF token, flow and CSRF cookie, or nil.
function login_page(status, headers, body)
  local csrf = string.match(body, 'name="csrf" value="([^"]+)"')
  local flow = string.match(body, 'name="flow" value="([^"]+)"')
  local cookie = string.match(headers["set-cookie"] or "", "ag_csrf=([^;]+)")
  if status ~= 200 or not csrf or not flow or not cookie then return nil end
  return unescape(csrf), unescape(flow), cookie
end

-- The authorization code in a redirect to the client, or nil. The sign-in's last POST
-- answers with it, with the session cookie.
function code_of(status, headers)
  local code = string.match(headers["location"] or "", "[?&]code=([^&]+)")
  if status ~= 303 or not code then return nil end
  return (string.gsub(code, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Counts the token response: a sign-in when it carries an ID token.
function count_tokens(status, body)
  if status == 200 and string.find(body, '"id_token"', 1, true) then logins = logins + 1 else failures = failures + 1 end
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
