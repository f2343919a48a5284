-- Update with If-Match, read-modify-write: GET a record (for its ETag), then PATCH it with
-- If-Match: <that ETag>. One GET+PATCH pair is one update.
--
-- wrk runs one Lua state per thread, not per connection, so records are owned by threads:
-- thread t cycles through its own `pool` records (keys lo + (slot*threads + t-1)*stride),
-- and never has one record in flight twice. No other client touches them, so a 412 here
-- would be a bug, not contention. A fetched record is patched by the next request the
-- thread sends, on whichever of its connections is free first.
--
-- Prints, for run.py: BENCH updates=<pairs answered 200> BENCH duration_s=...
-- BENCH pair_p50_ms / pair_p99_ms (GET sent to PATCH answered) BENCH stale=<412s>.
-- args: lo stride pool threads, and optionally the collection's path, "data" and what
-- follows the key (Kinto's: the PATCH body inside {"data": ...}, URLs that end with the
-- key; bench/peers.py, where BENCH_AUTH holds the Authorization header).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local path = "/api/v1/storage/dogs/"
local auth = os.getenv("BENCH_AUTH") or ("Bearer " .. (os.getenv("BENCH_TOKEN") or ""))
local wrap = nil
local tail = "/"
local all_threads = {}
local lo, stride, pool, nthreads
local slot = 0
local fetched = {} -- records read and waiting for their PATCH: { key, etag }
local patching = {} -- key -> true while its PATCH is due or in flight
local started = {} -- key -> when its GET was sent
-- Globals, so that done() can read them from each thread.
updates, stale, failed, samples = 0, 0, 0, {}

function setup(thread)
  table.insert(all_threads, thread)
  thread:set("tid", #all_threads)
end

function init(args)
  lo, stride, pool, nthreads =
    tonumber(args[1]), tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  path = args[5] or path
  wrap = args[6]
  tail = args[7] or tail
end

local function patch_body(body)
  return wrap and ('{"' .. wrap .. '":' .. body .. "}") or body
end

function request()
  local item = table.remove(fetched)
  if item then
    return wrk.format("PATCH", path .. item[1] .. tail, {
      ["Authorization"] = auth,
      ["Content-Type"] = "application/json",
      ["If-Match"] = item[2],
    }, patch_body('{"age":' .. math.random(0, 40) .. "}"))
  end
  local key = lo + ((slot % pool) * nthreads + tid - 1) * stride
  slot = slot + 1
  patching[key] = nil
  started[key] = now_ms()
  return wrk.format("GET", path .. key .. tail, { ["Authorization"] = auth })
end

function response(status, headers, body)
  if status == 412 then
    stale = stale + 1
  end
  -- The record's key: the first "id" of the answer (ours opens with it; Kinto's, whose
  -- keys are the same numbers as strings, has it inside "data").
  local key = tonumber(body:match('"id":"?(%d+)"?[,}]'))
  if status ~= 200 or key == nil then
    failed = failed + 1
    return
  end
  if patching[key] then
    patching[key] = nil
    updates = updates + 1
    samples[#samples + 1] = now_ms() - started[key]
  else
    patching[key] = true
    fetched[#fetched + 1] = { key, headers["ETag"] or headers["Etag"] or headers["etag"] }
  end
end

function done(summary, latency, requests)
  local all, total = {}, { updates = 0, stale = 0, failed = 0 }
  for _, thread in ipairs(all_threads) do
    for name, _ in pairs(total) do
      total[name] = total[name] + thread:get(name)
    end
    for _, sample in ipairs(thread:get("samples")) do
      all[#all + 1] = sample
    end
  end
  table.sort(all)
  local function pct(p)
    return #all > 0 and all[math.max(1, math.ceil(#all * p / 100))] or 0
  end
  io.write(string.format("BENCH updates=%d\n", total.updates))
  io.write(string.format("BENCH stale=%d\n", total.stale))
  io.write(string.format("BENCH failed=%d\n", total.failed))
  io.write(string.format("BENCH duration_s=%.3f\n", summary.duration / 1e6))
  io.write(string.format("BENCH pair_p50_ms=%.3f\n", pct(50)))
  io.write(string.format("BENCH pair_p99_ms=%.3f\n", pct(99)))
end
