-- wrk script: the users list with a search keyword of class CLASS (bench/search.sh),
-- drawn at random for each request from the seed data's shapes (bench/seed.sh: emails
-- user<i>@example.com, names "first<i> last", i in 1..USERS).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local class = os.getenv("CLASS") or "len3"
local users = tonumber(os.getenv("USERS") or "1000000")
local body = '{"query":"{ users(first: 50, searchKeyword: \\"KEYWORD\\") { edges { node { id standardAttributes } } } }"}'
math.randomseed(os.time())

local common = { "example", "user", "last", "@exa", "irst", "ple.com", "xam" }

-- A random piece of length n of a random user's email or name.
local function piece(n)
  local i = math.random(1, users)
  local text = (math.random(2) == 1) and ("user" .. i .. "@example.com") or ("first" .. i .. " last")
  local from = math.random(1, #text - n + 1)
  return string.sub(text, from, from + n - 1)
end

local function keyword()
  local len = tonumber(string.match(class, "^len(%d)$"))
  if len then return piece(len) end
  if class == "common" then return common[math.random(#common)] end
  -- One user: the whole local part of an email with its "@".
  if class == "rare" then return "user" .. math.random(1, users) .. "@" end
  -- A prefix of 1,111 to 111,111 emails, clustered in creation order (the issue's case).
  if class == "broad" then return "user" .. math.random(1, 999) end
  -- Three or four digits anywhere: hundreds to thousands of users, spread over time.
  if class == "digits" then return tostring(math.random(100, 9999)) end
  -- Keywords with a character pg_trgm does not index (%, _, +, ', an emoji) next to
  -- digits or common trigrams: few or no users hold them.
  if class == "symbols" then
    local i = math.random(1, 9999)
    -- (The emoji as a JSON escape: the body is JSON.)
    local shapes = { "%%%", i .. "_las", "%" .. i .. "%", i .. "+t", "o'" .. i, "\\ud83d\\ude00" .. i }
    return shapes[math.random(#shapes)]
  end
  -- Across a separator: a letter that ends no name's first word nor any email's local
  -- part or domain, then a piece every user holds (`x last`, `k@exam`): no user matches,
  -- and `pg_trgm` alone would find every trigram of each side in every row.
  if class == "joined" then
    local letters = "abcdfghijkmnopuvwxyz"
    local i = math.random(#letters)
    local c = string.sub(letters, i, i)
    local shapes = { c .. " last", c .. " la", c .. "@exam", c .. ".com" }
    return shapes[math.random(#shapes)]
  end
  error("unknown CLASS " .. class)
end

request = function()
  -- `%` is special in a replacement string.
  local kw = string.gsub(keyword(), "%%", "%%%%")
  return wrk.format(nil, nil, nil, (string.gsub(body, "KEYWORD", kw)))
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d (timeout %d) rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, e.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
