/*
 * Prometheus text format (0.0.4) for the persona demo dashboard: a parser
 * and the few sums the dashboard draws.  No dependencies; loads in a
 * browser (window.PersonaMetrics) and in Node (require), where
 * demo/test/metrics.test.js tests it.
 */
(function (root, factory) {
    if (typeof module === "object" && module.exports) {
        module.exports = factory();
    } else {
        root.PersonaMetrics = factory();
    }
}(this, function () {
    "use strict";

    var NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
    var LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

    function parseValue(s) {
        if (s === "+Inf" || s === "Inf") return Infinity;
        if (s === "-Inf") return -Infinity;
        if (s === "NaN") return NaN;
        if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return null;
        return Number(s);
    }

    /* one label set, from just after "{"; returns [labels, index after "}"] */
    function parseLabels(line, i, lineno) {
        var labels = {}, m, name, value, c;

        for (;;) {
            while (line[i] === " " || line[i] === "\t") i++;
            if (line[i] === "}") return [labels, i + 1];
            m = LABEL.exec(line.slice(i));
            if (!m) throw new Error("line " + lineno + ": label name expected");
            name = m[0];
            i += name.length;
            while (line[i] === " " || line[i] === "\t") i++;
            if (line[i] !== "=") throw new Error("line " + lineno + ": '=' expected");
            i++;
            while (line[i] === " " || line[i] === "\t") i++;
            if (line[i] !== "\"") throw new Error("line " + lineno + ": '\"' expected");
            i++;
            value = "";
            for (;;) {
                if (i >= line.length) {
                    throw new Error("line " + lineno + ": unterminated label value");
                }
                c = line[i++];
                if (c === "\"") break;
                if (c === "\\") {
                    c = line[i++];
                    value += c === "n" ? "\n" : c === "\\" ? "\\"
                           : c === "\"" ? "\"" : "\\" + c;
                } else {
                    value += c;
                }
            }
            labels[name] = value;
            while (line[i] === " " || line[i] === "\t") i++;
            if (line[i] === ",") i++;
            else if (line[i] !== "}") {
                throw new Error("line " + lineno + ": ',' or '}' expected");
            }
        }
    }

    /*
     * text -> { samples: [{name, labels, value}], types: {family: type},
     *           help: {family: text} }.  Throws on a malformed line.
     */
    function parse(text) {
        var out = { samples: [], types: {}, help: {} };
        var lines = String(text).split("\n");

        lines.forEach(function (raw, n) {
            var line = raw.replace(/\r$/, ""), m, i, labels = {}, rest, parts,
                value, r;

            if (/^\s*$/.test(line)) return;
            if (line[0] === "#") {
                m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
                if (m && m[1] === "TYPE") out.types[m[2]] = m[3].trim();
                if (m && m[1] === "HELP") out.help[m[2]] = m[3];
                return;
            }
            m = NAME.exec(line);
            if (!m) throw new Error("line " + (n + 1) + ": metric name expected");
            i = m[0].length;
            if (line[i] === "{") {
                r = parseLabels(line, i + 1, n + 1);
                labels = r[0];
                i = r[1];
            }
            rest = line.slice(i).trim();
            parts = rest.split(/\s+/);
            if (parts.length < 1 || parts.length > 2 || parts[0] === "") {
                throw new Error("line " + (n + 1) + ": value expected");
            }
            value = parseValue(parts[0]);
            if (value === null) {
                throw new Error("line " + (n + 1) + ": bad value \"" + parts[0] + "\"");
            }
            out.samples.push({ name: m[0], labels: labels, value: value });
        });
        return out;
    }

    function matches(labels, want) {
        for (var k in want) {
            if (labels[k] !== want[k]) return false;
        }
        return true;
    }

    /* the sum of a series' samples whose labels include `want` (0: none) */
    function sum(parsed, name, want) {
        return parsed.samples.reduce(function (acc, s) {
            return s.name === name && matches(s.labels, want || {})
                   ? acc + s.value : acc;
        }, 0);
    }

    /* is there any sample of this name? */
    function has(parsed, name) {
        return parsed.samples.some(function (s) { return s.name === name; });
    }

    /* { labelvalue: summed value } of a series, by one label (or a key
     * function of the labels), in the order the series first appear */
    function byLabel(parsed, name, label) {
        var out = {};
        parsed.samples.forEach(function (s) {
            var k;
            if (s.name !== name) return;
            k = typeof label === "function" ? label(s.labels) : s.labels[label];
            if (k === undefined) return;
            out[k] = (out[k] || 0) + s.value;
        });
        return out;
    }

    /* cumulative buckets [{le, count}] of a histogram, sorted by le,
     * summed over other labels */
    function buckets(parsed, name) {
        var by = {};
        parsed.samples.forEach(function (s) {
            if (s.name !== name + "_bucket" || s.labels.le === undefined) return;
            by[s.labels.le] = (by[s.labels.le] || 0) + s.value;
        });
        return Object.keys(by).map(function (le) {
            return { le: parseValue(le), count: by[le] };
        }).filter(function (b) { return b.le !== null; })
          .sort(function (a, b) { return a.le - b.le; });
    }

    /* b - a, bucket by bucket (the observations between two scrapes);
     * a counter reset (b < a) gives b itself */
    function bucketDelta(a, b) {
        var old = {};
        (a || []).forEach(function (x) { old[x.le] = x.count; });
        var reset = b.some(function (x) { return (old[x.le] || 0) > x.count; });
        return b.map(function (x) {
            return { le: x.le, count: reset ? x.count : x.count - (old[x.le] || 0) };
        });
    }

    /*
     * The q-quantile of cumulative buckets, as Prometheus's
     * histogram_quantile computes it: linear inside the bucket the rank
     * falls in (from 0 for the first), the highest finite bound when it
     * falls in +Inf; null without observations.
     */
    function quantile(q, bs) {
        var total, rank, i, lo, prev;

        if (!bs.length) return null;
        total = bs[bs.length - 1].count;
        if (bs[bs.length - 1].le !== Infinity || !(total > 0)) return null;
        rank = q * total;
        for (i = 0; i < bs.length; i++) {
            if (bs[i].count >= rank) break;
        }
        if (bs[i].le === Infinity) {
            return bs.length > 1 ? bs[bs.length - 2].le : null;
        }
        lo = i > 0 ? bs[i - 1].le : 0;
        prev = i > 0 ? bs[i - 1].count : 0;
        if (bs[i].count === prev) return bs[i].le;
        return lo + (bs[i].le - lo) * (rank - prev) / (bs[i].count - prev);
    }

    return {
        parse: parse, sum: sum, has: has, byLabel: byLabel,
        buckets: buckets, bucketDelta: bucketDelta, quantile: quantile
    };
}));
