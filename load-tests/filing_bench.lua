-- wrk script for load-tests/filing-bench: files reports (POST /v1/reports) as many residents,
-- each request as one of the accounts in $TOKENS (one access token per line), at one of the
-- positions in $POINTS (`latitude longitude` per line, inside the demo city's wards), in one of
-- the categories below with the answers it requires, with a new Idempotency-Key each time.
-- Answers that are not 201 are counted and printed at the end.

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

local tokens = lines(os.getenv("TOKENS"))
local points = {}
for _, line in ipairs(lines(os.getenv("POINTS"))) do
  local lat, lng = line:match("^(%S+) (%S+)$")
  points[#points + 1] = { lat, lng }
end

-- Categories of the demo city, weighted as residents file them: no question, or one required.
local kinds = {
  '"category":"pothole","answers":{"size":"large"}',
  '"category":"pothole","answers":{"size":"medium"}',
  '"category":"garbage","answers":{}',
  '"category":"garbage","answers":{}',
  '"category":"clogged_drain","answers":{}',
  '"category":"street_light","answers":{"light_state":"off"}',
  '"category":"fallen_tree","answers":{"blocking":["road"]}',
  '"category":"damaged_sign","answers":{}',
}

local threads = {}
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("id", thread_number)
  table.insert(threads, thread)
end

local sent = 0
non_201 = 0

function init(args)
  math.randomseed(id * 7919 + os.time())
end

function request()
  sent = sent + 1
  local token = tokens[(sent + id * 31) % #tokens + 1]
  local point = points[math.random(#points)]
  local body = string.format(
    '{%s,"latitude":%s,"longitude":%s,"description":"Phản ánh từ bài đo tải"}',
    kinds[math.random(#kinds)], point[1], point[2])
  return wrk.format("POST", "/v1/reports", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("bench-%d-%d-%d", id, sent, math.random(1e9)),
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    non_201 = non_201 + 1
    if non_201 <= 3 then io.stderr:write(status .. " " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("non_201") end
  io.write(string.format("non_201 %d\n", failed))
end
