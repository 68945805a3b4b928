/*
 * The persona demo's live dashboard: scrapes the persona_metrics location
 * every 2 s and draws the series with plain SVG (no library, no CDN).
 *   ?src=/path      another metrics location (default /persona-demo/metrics)
 *   ?sample=1       draw sample-metrics.txt, growing, instead of scraping
 * Names are those of SPEC "Metrics"; metrics.js parses the text.
 */
(function () {
    "use strict";

    var M = window.PersonaMetrics;
    var SVGNS = "http://www.w3.org/2000/svg";
    var PERIOD = 2000, KEEP = 90, WIDTH = 600;
    var params = new URLSearchParams(location.search);
    var sample = params.get("sample") === "1";
    var src = params.get("src") || "/persona-demo/metrics";
    var STATUS_COLORS = {
        ok: "#2f7d3b", miss: "#4a7fc1", stale: "#2a9d8f", preview: "#8e5bb5",
        anonymous: "#9aa5a0", off: "#c9cfcc", error: "#c62828",
        timeout: "#e07a1f", breaker: "#8b1a1a", invalid: "#d4a017"
    };
    var STATUS_ORDER = ["ok", "miss", "anonymous", "stale", "preview",
                        "timeout", "error", "breaker", "invalid", "off"];

    var state = {
        scrapes: 0, errors: 0, prev: null, prevTime: 0, last: null,
        rate: [], p99: [], breaker: [], sampleBase: null
    };
    window.personaDashboard = state;

    function $(id) { return document.getElementById(id); }

    function el(name, attrs, text) {
        var e = document.createElementNS(SVGNS, name), k;
        for (k in attrs) e.setAttribute(k, attrs[k]);
        if (text !== undefined) e.textContent = text;
        return e;
    }

    function clear(svg) {
        while (svg.firstChild) svg.removeChild(svg.firstChild);
    }

    function fmt(n) {
        if (n === null || n === undefined || isNaN(n)) return "\u2013";
        if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + "M";
        if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + "k";
        return String(Math.round(n * 10) / 10);
    }

    function ms(sec) {
        if (sec === null || sec === undefined) return "\u2013";
        return (sec * 1000).toFixed(sec < 0.01 ? 2 : 1) + " ms";
    }

    /* horizontal bars: items [{label, value, color, note}] */
    function bars(svg, items, emptyText) {
        var row = 22, lw = 170, nw = 120, y = 4, max = 1;

        clear(svg);
        if (!items.length) {
            svg.setAttribute("viewBox", "0 0 " + WIDTH + " 30");
            svg.appendChild(el("text", { x: 4, y: 18, "class": "axis" },
                               emptyText || "no data yet"));
            return;
        }
        items.forEach(function (it) { max = Math.max(max, it.value); });
        svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + (items.length * row + 8));
        items.forEach(function (it) {
            var w = (WIDTH - lw - nw) * it.value / max;
            svg.appendChild(el("text", { x: lw - 6, y: y + 14, "text-anchor": "end" },
                               it.label));
            svg.appendChild(el("rect", { x: lw, y: y + 2, width: Math.max(w, 1),
                                         height: row - 6, rx: 3,
                                         fill: it.color || "#4a7fc1" }));
            svg.appendChild(el("text", { x: lw + w + 6, y: y + 14, "class": "num" },
                               fmt(it.value) + (it.note ? "  " + it.note : "")));
            y += row;
        });
    }

    /* line chart of series [{values, color, label}] over the last KEEP scrapes */
    function lines(svg, series, unit) {
        var h = 150, pad = 34, max = 0, n = KEEP;

        clear(svg);
        svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + (h + 20));
        series.forEach(function (s) {
            s.values.forEach(function (v) { if (v !== null) max = Math.max(max, v); });
        });
        if (max === 0) max = 1;
        svg.appendChild(el("line", { x1: pad, y1: h, x2: WIDTH, y2: h, stroke: "#ccd" }));
        svg.appendChild(el("text", { x: pad - 4, y: 12, "text-anchor": "end", "class": "axis" },
                           fmt(max)));
        svg.appendChild(el("text", { x: pad - 4, y: h, "text-anchor": "end", "class": "axis" },
                           "0"));
        svg.appendChild(el("text", { x: WIDTH, y: h + 16, "text-anchor": "end", "class": "axis" },
                           "now (" + unit + ", one point per 2 s)"));
        series.forEach(function (s, si) {
            var pts = [], off = n - s.values.length;
            s.values.forEach(function (v, i) {
                if (v === null) return;
                pts.push((pad + (WIDTH - pad) * (off + i) / (n - 1)).toFixed(1) + "," +
                         (h - (h - 8) * v / max).toFixed(1));
            });
            if (pts.length) {
                svg.appendChild(el("polyline", { points: pts.join(" "), fill: "none",
                                                 stroke: s.color, "stroke-width": 2 }));
            }
            svg.appendChild(el("text", { x: pad + 8 + si * 150, y: 14, fill: s.color },
                               s.label));
        });
    }

    /* the breaker over time: one cell per scrape */
    function strip(svg, values) {
        var cw = (WIDTH - 10) / KEEP, off = KEEP - values.length, open = values[values.length - 1];

        clear(svg);
        svg.setAttribute("viewBox", "0 0 " + WIDTH + " 70");
        values.forEach(function (v, i) {
            svg.appendChild(el("rect", { x: 5 + (off + i) * cw, y: 8, width: Math.max(cw - 1, 1),
                                         height: 26,
                                         fill: v === null ? "#e4e8e6" : v ? "#c62828" : "#2f7d3b" }));
        });
        svg.appendChild(el("text", { x: 5, y: 56 },
                           open === null || open === undefined ? "breaker: no data"
                           : open ? "open: Redis is skipped, pages go out unpersonalized"
                                  : "closed: lookups go to Redis"));
    }

    function counterRate(name, parsed, prev, dt, want) {
        if (!prev || dt <= 0) return null;
        var d = M.sum(parsed, name, want) - M.sum(prev, name, want);
        return d < 0 ? null : d / dt;
    }

    function draw(parsed, now) {
        var prev = state.prev, dt = prev ? (now - state.prevTime) / 1000 : 0;
        var total = M.sum(parsed, "persona_requests_total");
        var byStatus = M.byLabel(parsed, "persona_requests_total", "status");
        var statuses = Object.keys(byStatus).sort(function (a, b) {
            var ia = STATUS_ORDER.indexOf(a), ib = STATUS_ORDER.indexOf(b);
            return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
        });
        var rate = counterRate("persona_requests_total", parsed, prev, dt);
        var lat = M.buckets(parsed, "persona_redis_latency_seconds");
        var p99all = M.quantile(0.99, lat);
        var p99 = prev ? M.quantile(0.99, M.bucketDelta(
                      M.buckets(prev, "persona_redis_latency_seconds"), lat)) : null;
        var hasBreaker = M.has(parsed, "persona_breaker_open");
        var open = hasBreaker ? M.sum(parsed, "persona_breaker_open") > 0 : null;
        var goals = M.byLabel(parsed, "persona_goal_total", "goal");
        var conv = M.sum(parsed, "persona_goal_total");
        var errs = M.byLabel(parsed, "persona_redis_errors_total", "kind");
        var perVariant = parsed.samples.some(function (s) {
            return s.name === "persona_goal_total" && s.labels.variant !== undefined;
        });
        var items, goalNames;

        $("total-requests").textContent = fmt(total);
        $("req-rate").textContent = rate === null ? "\u2013" : fmt(rate);
        $("personalized").textContent = fmt((byStatus.ok || 0) + (byStatus.miss || 0)
                                            + (byStatus.stale || 0));
        $("p99").textContent = ms(p99);
        $("p99-all").textContent = ms(p99all);
        $("breaker").textContent = open === null ? "\u2013" : open ? "open" : "closed";
        $("breaker").className = "v " + (open ? "breaker-open" : "breaker-closed");
        $("trips").textContent = fmt(M.sum(parsed, "persona_breaker_trips_total"));
        $("conns").textContent = fmt(M.sum(parsed, "persona_redis_connections"));
        $("conversions").textContent = fmt(conv);
        goalNames = Object.keys(goals);
        $("goals-line").textContent = goalNames.length
            ? goalNames.map(function (g) { return g + " " + fmt(goals[g]); }).join(" \u00b7 ")
            : "no goals counted yet";

        bars($("chart-status"), statuses.map(function (s) {
            return { label: s, value: byStatus[s], color: STATUS_COLORS[s] || "#777",
                     note: total ? Math.round(100 * byStatus[s] / total) + "%" : "" };
        }), "no requests yet");

        var segs = M.byLabel(parsed, "persona_segment_total", "segment");
        bars($("chart-segments"), Object.keys(segs).map(function (s) {
            return { label: s, value: segs[s], color: "#5a8f62" };
        }).sort(function (a, b) { return b.value - a.value; }), "no segments counted yet");

        var vars = M.byLabel(parsed, "persona_variant_total", function (l) {
            return l.experiment + " / " + l.variant;
        });
        items = Object.keys(vars).map(function (k) {
            return { label: k, value: vars[k], color: "#4a7fc1", note: "exposures" };
        });
        if (perVariant) {
            var cv = M.byLabel(parsed, "persona_goal_total", function (l) {
                return l.variant === undefined ? undefined
                       : l.experiment + " / " + l.variant + ": " + l.goal;
            });
            Object.keys(cv).forEach(function (k) {
                items.push({ label: k, value: cv[k], color: "#d08a1f", note: "conversions" });
            });
            $("variants-note").textContent = "";
        } else {
            goalNames.forEach(function (g) {
                items.push({ label: "goal " + g, value: goals[g], color: "#d08a1f",
                             note: "conversions" });
            });
            $("variants-note").textContent = goalNames.length
                ? "Conversions per variant: persona-report experiments (the events stream)."
                : "";
        }
        bars($("chart-variants"), items, "no experiment exposures yet");

        state.rate.push(rate);
        state.p99.push(p99 === null ? null : p99 * 1000);
        state.breaker.push(open);
        ["rate", "p99", "breaker"].forEach(function (k) {
            if (state[k].length > KEEP) state[k].shift();
        });
        var errSeries = Object.keys(errs).map(function (k) { return k + " " + fmt(errs[k]); });
        lines($("chart-latency"), [
            { values: state.p99, color: "#c1442e", label: "p99 " + ms(p99) },
            { values: [], color: "#789",
              label: "errors: " + (errSeries.length ? errSeries.join(", ") : "none") }
        ], "ms");
        lines($("chart-rate"), [
            { values: state.rate, color: "#2f7d3b", label: "requests/s " +
              (rate === null ? "\u2013" : fmt(rate)) }
        ], "req/s");
        strip($("chart-breaker"), state.breaker);

        state.prev = parsed;
        state.prevTime = now;
        state.last = parsed;
    }

    /* sample mode: the sample's counters grow on every tick, unevenly,
     * and now and then a few slow Redis replies move the p99 */
    function grown(base, tick) {
        var types = base.types, g = 0, slow = 0, i;

        for (i = 1; i <= tick; i++) {
            g += 0.02 * (1 + 0.8 * Math.sin(i * 0.45));
            slow += Math.floor(4 * Math.max(0, Math.sin(i * 0.7)));
        }
        return {
            types: types, help: base.help,
            samples: base.samples.map(function (s) {
                var fam = s.name.replace(/_(bucket|sum|count)$/, ""), v = s.value;
                if (types[s.name] === "counter" || types[fam] === "histogram") {
                    v = s.name.slice(-4) === "_sum" ? v * (1 + g) : Math.round(v * (1 + g));
                }
                if (fam === "persona_redis_latency_seconds"
                    && (s.name.slice(-6) === "_count"
                        || (s.labels.le !== undefined && Number(s.labels.le) >= 0.01)
                        || s.labels.le === "+Inf"))
                {
                    v += slow;
                }
                return { name: s.name, labels: s.labels, value: v };
            })
        };
    }

    function report(text, err) {
        $("state").textContent = text;
        $("state").className = err ? "err" : "";
    }

    function scrape() {
        var url = sample ? "/persona-demo/sample-metrics.txt" : src;

        if (sample && state.sampleBase) {
            draw(grown(state.sampleBase, state.scrapes), Date.now());
            state.scrapes++;
            report("Sample data (not this server's): scrape " + state.scrapes);
            return;
        }
        fetch(url, { cache: "no-store" }).then(function (r) {
            return r.text().then(function (body) {
                if (!r.ok) {
                    throw new Error(url + " answers " + r.status + ": " +
                                    body.split("\n")[0].slice(0, 120));
                }
                return body;
            });
        }).then(function (body) {
            var parsed = M.parse(body);
            if (sample) {
                /* a sample has a past: the last 45 scrapes, drawn at once */
                state.sampleBase = parsed;
                for (var t = 0; t < 45; t++) {
                    draw(grown(parsed, t), Date.now() - (45 - t) * PERIOD);
                    state.scrapes++;
                }
                parsed = grown(parsed, state.scrapes);
            }
            draw(parsed, Date.now());
            state.scrapes++;
            report((sample ? "Sample data (not this server's)" : "Live from " + url) +
                   ": scrape " + state.scrapes + " at " + new Date().toLocaleTimeString());
        }).catch(function (e) {
            state.errors++;
            report("Metrics not available (" + e.message + "). Retrying every 2 s.", true);
        });
    }

    $("src").textContent = sample ? "sample-metrics.txt" : src;
    scrape();
    setInterval(scrape, PERIOD);
}());
