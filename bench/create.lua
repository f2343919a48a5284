-- Create one record per request: POST to the URL's path (a `dogs`-shaped storage's records,
-- /api/v1/storage/dogs/ in make bench) with a new name each time
-- (names are unique per run, thread and request, so the unique (name, born) index never
-- answers 409). args: a run tag.

local breeds = { "beagle", "labrador", "poodle", "boxer", "collie", "husky", "pug", "corgi" }
local sizes = { "small", "medium", "large" }
local headers = {
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
  ["Content-Type"] = "application/json",
}
local threads = 0
local run, sent = "run", 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  run = args[1] or run
  math.randomseed(tid * 7919)
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"name":"wrk-%s-%d-%d","breed":"%s","age":%d,"weight_kg":"%d.%02d","vaccinated":%s,'
      .. '"born":"20%02d-%02d-%02d","registered_at":"2025-%02d-%02dT12:00:00Z",'
      .. '"size":"%s","extra":{"source":"wrk"}}',
    run, tid, sent, breeds[math.random(#breeds)], math.random(0, 15),
    math.random(1, 80), math.random(0, 99), math.random(2) == 1 and "true" or "false",
    math.random(8, 23), math.random(1, 12), math.random(1, 28),
    math.random(1, 12), math.random(1, 28), sizes[math.random(#sizes)]
  )
  return wrk.format("POST", nil, headers, body)  -- nil: the path of wrk's URL
end
