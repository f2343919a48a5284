-- Get one record by key: GET /api/v1/storage/dogs/<key>/ with keys drawn uniformly over
-- the whole seeded table. args: lowest key, highest key.

local path = "/api/v1/storage/dogs/"
local headers = { ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "") }
local threads = 0
local lo, hi

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  lo, hi = tonumber(args[1]), tonumber(args[2])
  math.randomseed(tid * 104729)
end

function request()
  return wrk.format("GET", path .. math.random(lo, hi) .. "/", headers)
end
