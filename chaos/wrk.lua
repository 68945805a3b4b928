-- wrk script for scripts/chaos.sh: random visitors (ids of loaded
-- profiles, unknown ids and anonymous requests), a pause between the
-- requests of a connection (delay: the load is steady, not saturating, so
-- latency reflects the faults rather than the queue), and the responses
-- counted by status class; done() prints one machine-readable line.
--
-- Usage: wrk ... -s chaos/wrk.lua URL -- PROFILES DELAY_MS

local reqs = {}
local n = 0
local pause = 5
local threads = {}

-- per thread (read back in done() through thread:get)
c2xx, c3xx, c4xx, c5xx, cother = 0, 0, 0, 0, 0

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    local profiles = tonumber(args[1]) or 10000
    pause = tonumber(args[2]) or 5
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
    -- ids 0 .. 1.2 x profiles - 1: one in six has no profile; plus one
    -- anonymous request (no cookie) per 100 ids
    local span = math.floor(profiles * 1.2)
    for i = 1, span do
        reqs[#reqs + 1] = wrk.format(nil, nil,
            { ["Cookie"] = string.format("persona_id=u%06d", i - 1) })
    end
    for i = 1, math.floor(span / 100) + 1 do
        reqs[#reqs + 1] = wrk.format(nil, nil, {})
    end
    n = #reqs
end

function request()
    return reqs[math.random(1, n)]
end

function delay()
    return pause
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        c2xx = c2xx + 1
    elseif status < 400 and status >= 300 then
        c3xx = c3xx + 1
    elseif status < 500 and status >= 400 then
        c4xx = c4xx + 1
    elseif status < 600 and status >= 500 then
        c5xx = c5xx + 1
    else
        cother = cother + 1
    end
end

function done(summary, latency, requests)
    local s = { 0, 0, 0, 0, 0 }
    for _, t in ipairs(threads) do
        s[1] = s[1] + t:get("c2xx")
        s[2] = s[2] + t:get("c3xx")
        s[3] = s[3] + t:get("c4xx")
        s[4] = s[4] + t:get("c5xx")
        s[5] = s[5] + t:get("cother")
    end
    local e = summary.errors
    io.write(string.format(
        "CHAOS_RESULT requests=%d s2xx=%d s3xx=%d s4xx=%d s5xx=%d "
        .. "sother=%d err_connect=%d err_read=%d err_write=%d "
        .. "err_timeout=%d p50_us=%d p99_us=%d max_us=%d\n",
        summary.requests, s[1], s[2], s[3], s[4], s[5],
        e.connect, e.read, e.write, e.timeout,
        latency:percentile(50), latency:percentile(99), latency.max))
end
