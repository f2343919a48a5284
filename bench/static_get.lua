-- GET the URL given to wrk, with the bench token: the filtered list, the keyset pages and
-- the ceiling app. No request()/response() functions, so wrk sends one pre-built request
-- and spends no Lua time per request. BENCH_AUTH, when set, is the whole Authorization
-- header (Kinto's Basic credentials, bench/peers.py).
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH") or ("Bearer " .. (os.getenv("BENCH_TOKEN") or ""))
