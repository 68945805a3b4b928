-- wrk script for bench/run.sh's "-v" locations (persona-v, rules50-v,
-- geo): like random-id.lua, a random "Cookie: persona_id=uNNNNNN" per
-- request, plus what a browser behind a load balancer sends: a client
-- address in X-Forwarded-For, a User-Agent, Accept-Language, other
-- cookies, and on some requests a utm query string. All of them go to
-- the virtual server "Host: visitor.bench", which trusts X-Forwarded-For
-- from 127.0.0.1 (realip), so the spine locations stay untouched.
--
-- Usage: wrk ... -s bench/visitor.lua URL -- [ids [addresses-file]]
--   ids             profile ids u000000.. (default 100000)
--   addresses-file  one address a line (bench/make-geo-db.pl writes
--                   geo-addrs.txt); without it random public IPv4
--                   addresses. Every location measured with this script
--                   in one run gets the same file, so the requests
--                   differ only in their random order.

local reqs = {}
local n = 0

local agents = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        .. "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        .. "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
        .. "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
        .. "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        .. "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        .. "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
        .. "Firefox/121.0",
}

local langs = {
    "en-US,en;q=0.9",
    "de-CH,de;q=0.9,en;q=0.8",
    "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    "zh-CN,zh;q=0.9",
    "en-GB,en;q=0.9",
}

-- 1 in 4 requests with a query string, none of them a campaign the
-- bench rules look for
local queries = {
    "", "", "", "", "", "",
    "?utm_source=google&utm_medium=cpc&utm_campaign=brand",
    "?utm_source=newsletter&utm_medium=email&utm_campaign=w47",
}

function init(args)
    n = tonumber(args[1]) or 100000
    math.randomseed(os.time())

    local addrs = {}
    if args[2] and args[2] ~= "" then
        for line in io.lines(args[2]) do
            if line ~= "" then
                addrs[#addrs + 1] = line
            end
        end
        assert(#addrs > 0, "no addresses in " .. args[2])
    end

    -- Pre-format one request per id (attributes drawn at random once),
    -- so request() costs what it costs in random-id.lua.
    for i = 1, n do
        local xff
        if #addrs > 0 then
            xff = addrs[math.random(1, #addrs)]
        else
            xff = string.format("%d.%d.%d.%d", math.random(1, 223),
                math.random(0, 255), math.random(0, 255),
                math.random(1, 254))
        end
        reqs[i] = wrk.format(nil, wrk.path .. queries[math.random(1, #queries)], {
            ["Host"] = "visitor.bench",
            ["User-Agent"] = agents[math.random(1, #agents)],
            ["Accept"] = "text/html,application/xhtml+xml,application/xml;"
                .. "q=0.9,*/*;q=0.8",
            ["Accept-Language"] = langs[math.random(1, #langs)],
            ["Cookie"] = string.format(
                "persona_id=u%06d; _ga=GA1.2.%d.%d; consent=all",
                i - 1, math.random(1e8, 1e9 - 1),
                math.random(1.6e9, 1.7e9)),
            ["X-Forwarded-For"] = xff,
        })
    end
end

function request()
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
