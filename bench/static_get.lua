-- GET the URL given to wrk, with the bench token: the filtered list, the keyset pages and
-- the ceiling app. No request()/response() functions, so wrk sends one pre-built request
-- and spends no Lua time per request.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
