-- wrk script for bench/run.sh: every request carries a random
-- "Cookie: persona_id=uNNNNNN" drawn from the loaded id range, and done()
-- prints one machine-readable line that run.sh parses.
--
-- Usage: wrk ... -s bench/random-id.lua URL -- [ids]   (default 100000)
--        wrk ... -s bench/random-id.lua URL -- ids seq [start]
--        (ids in order from start, wrapping: fills a profile cache)
--        wrk ... -s bench/random-id.lua URL -- ids ua
--        (every request also carries a desktop browser's User-Agent: a
--        request without one is a bot to the module, in no experiment,
--        never tracked)
-- The same script drives the plain location too, so wrk's own cost per
-- request is identical in both runs; plain nginx just ignores the cookie.

local reqs = {}
local n = 0
local seq = false
local next_i = 0
local UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

function init(args)
    n = tonumber(args[1]) or 100000
    local ua = false
    if args[2] == "seq" then
        seq = true
        next_i = tonumber(args[3]) or 0
    elseif args[2] == "ua" then
        ua = true
    end
    math.randomseed(os.time())

    -- Pre-format one request per id, so request() costs a random number
    -- and a table lookup, and wrk (which shares a core with Redis) stays
    -- cheap. Every request picks one of the n ids uniformly.
    for i = 1, n do
        local h = { ["Cookie"] = string.format("persona_id=u%06d", i - 1) }
        if ua then
            h["User-Agent"] = UA
        end
        reqs[i] = wrk.format(nil, nil, h)
    end
end

function request()
    if seq then
        next_i = next_i + 1
        return reqs[(next_i - 1) % n + 1]
    end
    return reqs[math.random(1, n)]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH_RESULT requests=%d duration_us=%d bytes=%d "
        .. "err_connect=%d err_read=%d err_write=%d err_status=%d "
        .. "err_timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max))
end
