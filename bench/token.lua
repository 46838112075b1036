-- wrk script: POST a client_credentials token request with client_secret_basic.
--
-- Environment (set by bench/run.sh):
--   BENCH_BASIC  base64 of urlencode(client_id) ":" urlencode(client_secret)
--   BENCH_BODY   form body, e.g. grant_type=client_credentials&scope=api
--   BENCH_EXPECT optional (bench/flow.sh): a 2xx answer whose body does not
--                contain this string counts as non-2xx too, e.g.
--                "active":true for an introspection
--
-- Counts responses by status class per thread and prints one machine-readable
-- line at the end:
--   BENCH_RESULT requests=N duration_us=N non2xx=N connect=N read=N write=N timeout=N status_errors=N

local basic = os.getenv("BENCH_BASIC")
local body = os.getenv("BENCH_BODY") or "grant_type=client_credentials"
local expect = os.getenv("BENCH_EXPECT")
if expect == "" then
  expect = nil
end
if basic == nil or basic == "" then
  error("BENCH_BASIC is not set")
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. basic
wrk.headers["Accept"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  first_bad = nil
end

function response(status, headers, resp_body)
  if status < 200 or status > 299 or (expect ~= nil and not string.find(resp_body or "", expect, 1, true)) then
    non2xx = non2xx + 1
    if first_bad == nil then
      first_bad = tostring(status) .. " " .. string.sub(resp_body or "", 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  local sample = nil
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    if sample == nil then
      sample = t:get("first_bad")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d status_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
  if sample ~= nil then
    io.write("BENCH_FIRST_BAD " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end
