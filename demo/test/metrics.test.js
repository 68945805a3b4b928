// The dashboard's Prometheus text parser (demo/site/persona-demo/metrics.js)
// against the hand-written sample and edge cases of the format.
// Run: node --test demo/test/   (no packages needed)
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");
const M = require("../site/persona-demo/metrics.js");

const site = path.join(__dirname, "..", "site", "persona-demo");
const sample = fs.readFileSync(path.join(site, "sample-metrics.txt"), "utf8");

test("the sample parses, with types and help", () => {
    const p = M.parse(sample);
    assert.strictEqual(p.types.persona_requests_total, "counter");
    assert.strictEqual(p.types.persona_redis_latency_seconds, "histogram");
    assert.strictEqual(p.types.persona_breaker_open, "gauge");
    assert.match(p.help.persona_breaker_open, /breaker/);
    assert.ok(p.samples.length > 40);
});

test("requests by lookup status", () => {
    const p = M.parse(sample);
    const by = M.byLabel(p, "persona_requests_total", "status");
    assert.strictEqual(by.ok, 1520);
    assert.strictEqual(by.miss, 310);
    assert.deepStrictEqual(Object.keys(by).slice(0, 3), ["ok", "miss", "anonymous"]);
    assert.strictEqual(M.sum(p, "persona_requests_total"), 1887);
    assert.strictEqual(M.sum(p, "persona_requests_total", { status: "timeout" }), 7);
});

test("segments and variants", () => {
    const p = M.parse(sample);
    assert.strictEqual(M.byLabel(p, "persona_segment_total", "segment").douyin, 410);
    const v = M.byLabel(p, "persona_variant_total",
                        (l) => l.experiment + "/" + l.variant);
    assert.deepStrictEqual(v, { "headline/control": 231, "headline/urgency": 198,
                                "headline/urgency-capped": 35 });
    assert.strictEqual(M.byLabel(p, "persona_goal_total", "goal").purchase, 57);
});

test("gauges and absent series", () => {
    const p = M.parse(sample);
    assert.strictEqual(M.sum(p, "persona_breaker_open"), 0);
    assert.strictEqual(M.sum(p, "persona_redis_connections"), 4);
    assert.ok(M.has(p, "persona_breaker_open"));
    assert.ok(!M.has(p, "persona_nothing"));
    assert.strictEqual(M.sum(p, "persona_nothing"), 0);
});

test("p99 from the histogram buckets, like histogram_quantile", () => {
    const p = M.parse(sample);
    const b = M.buckets(p, "persona_redis_latency_seconds");
    assert.strictEqual(b.length, 10);
    assert.strictEqual(b[9].le, Infinity);
    // rank 0.99 * 1830 = 1811.7 falls in (0.0025, 0.005]: 1790 .. 1815
    const p99 = M.quantile(0.99, b);
    assert.ok(Math.abs(p99 - (0.0025 + 0.0025 * 21.7 / 25)) < 1e-12, String(p99));
    // the median is in the first bucket, interpolated from 0
    assert.ok(Math.abs(M.quantile(0.5, b) - 0.0005 * 915 / 1210) < 1e-12);
    // no observations: no quantile
    assert.strictEqual(M.quantile(0.99, M.bucketDelta(b, b)), null);
    assert.strictEqual(M.quantile(0.99, []), null);
});

test("p99 over the last scrape only, and past the last finite bucket", () => {
    const a = [{ le: 0.001, count: 10 }, { le: 0.25, count: 10 }, { le: Infinity, count: 10 }];
    const b = [{ le: 0.001, count: 10 }, { le: 0.25, count: 10 }, { le: Infinity, count: 30 }];
    const d = M.bucketDelta(a, b);
    assert.deepStrictEqual(d.map((x) => x.count), [0, 0, 20]);
    assert.strictEqual(M.quantile(0.99, d), 0.25);
    // a counter reset (nginx restarted): the new values are the delta
    assert.deepStrictEqual(M.bucketDelta(b, a).map((x) => x.count), [10, 10, 10]);
});

test("the text format's corners", () => {
    const p = M.parse([
        "# a comment",
        "",
        "x_total{a=\"q\\\"uote\",b=\"back\\\\slash\",c=\"new\\nline\",} 1.5e3 1700000000000",
        "y NaN",
        "z{le=\"+Inf\"} +Inf",
        "w{ a = \"1\" } -2",
        "crlf 3\r",
    ].join("\n"));
    assert.deepStrictEqual(p.samples[0].labels, { a: "q\"uote", b: "back\\slash", c: "new\nline" });
    assert.strictEqual(p.samples[0].value, 1500);
    assert.ok(Number.isNaN(p.samples[1].value));
    assert.strictEqual(p.samples[2].value, Infinity);
    assert.strictEqual(p.samples[3].value, -2);
    assert.strictEqual(p.samples[4].value, 3);
});

test("malformed lines are errors, not numbers", () => {
    assert.throws(() => M.parse("x{a=1} 2"), /'"' expected/);
    assert.throws(() => M.parse("x{a=\"1\" 2"), /','/);
    assert.throws(() => M.parse("x abc"), /bad value/);
    assert.throws(() => M.parse("x"), /value expected/);
    assert.throws(() => M.parse("{a=\"1\"} 2"), /metric name expected/);
    assert.throws(() => M.parse("x{a=\"1} 2"), /unterminated/);
});
