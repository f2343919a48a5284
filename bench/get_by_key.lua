-- Get one record by key: GET /api/v1/storage/dogs/<key>/ with keys drawn uniformly over
-- the whole seeded table. args: lowest key, highest key, and optionally the collection's
-- path and what follows the key ("" for Kinto's records, bench/peers.py, whose URLs end
-- with the key; BENCH_AUTH then holds the Authorization header).

local path = "/api/v1/storage/dogs/"
local auth = os.getenv("BENCH_AUTH") or ("Bearer " .. (os.getenv("BENCH_TOKEN") or ""))
local headers = { ["Authorization"] = auth }
local tail = "/"
local threads = 0
local lo, hi

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  lo, hi = tonumber(args[1]), tonumber(args[2])
  path, tail = args[3] or path, args[4] or tail
  math.randomseed(tid * 104729)
end

function request()
  return wrk.format("GET", path .. math.random(lo, hi) .. tail, headers)
end
