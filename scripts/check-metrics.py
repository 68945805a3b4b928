#!/usr/bin/python3
"""Checks a persona_metrics page (stdin) with Prometheus's own parser.

Parses the text with prometheus_client (Debian: python3-prometheus-client),
checks what SPEC "Metrics" promises (every family with its type, every
$persona_status, the histogram's buckets, cumulative and consistent with
_count), then prints "metrics ok" and one line per sample, sorted:

    name{label="value",...} value

or "metrics BAD: ..." lines, and exits 1.  The tests (t/110-metrics.t)
feed it the body of GET /metrics.
"""

import math
import sys

from prometheus_client.parser import text_string_to_metric_families

FAMILIES = {
    # family name as the parser reports it (counters lose "_total")
    "persona_requests": "counter",
    "persona_segment": "counter",
    "persona_variant": "counter",
    "persona_redis_latency_seconds": "histogram",
    "persona_redis_connections": "gauge",
    "persona_redis_connects": "counter",
    "persona_redis_errors": "counter",
    "persona_breaker_open": "gauge",
    "persona_breaker_trips": "counter",
    "persona_redis_topology_refreshes": "counter",
    "persona_redis_node_lookups": "counter",
    "persona_redis_redirects": "counter",
    "persona_cache": "counter",
    "persona_cache_evictions": "counter",
    "persona_track_dropped": "counter",
    "persona_goal": "counter",
    "persona_rules_loaded_timestamp_seconds": "gauge",
    "persona_rules_reload_errors": "counter",
}

LABELS = {
    "persona_requests_total": ("status", {
        "off", "ok", "miss", "anonymous", "error", "timeout", "breaker",
        "stale", "preview", "invalid"}),
    "persona_redis_errors_total": ("kind", {"timeout", "connect",
                                            "protocol"}),
    "persona_cache_total": ("result", {"hit", "miss", "stale"}),
}

BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
           math.inf]


def fmt_value(v):
    if v == int(v):
        return str(int(v))
    return repr(v)


def check(text):
    bad = []
    samples = []

    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        return ["parse error: %s" % e], []

    seen = {}
    for fam in families:
        if fam.name in seen:
            bad.append("family %s twice" % fam.name)
        seen[fam.name] = fam
        if not fam.documentation:
            bad.append("family %s has no HELP" % fam.name)

    for name, typ in FAMILIES.items():
        fam = seen.get(name)
        if fam is None:
            bad.append("family %s missing" % name)
        elif fam.type != typ:
            bad.append("family %s is a %s, not a %s" % (name, fam.type, typ))

    for fam in families:
        for s in fam.samples:
            if s.value < 0 or math.isnan(s.value):
                bad.append("%s: negative or NaN value" % s.name)
            samples.append(s)

    for name, (label, values) in LABELS.items():
        got = [s.labels.get(label) for s in samples if s.name == name]
        if sorted(got) != sorted(values):
            bad.append("%s{%s}: %s, want each of %s"
                       % (name, label, sorted(got), sorted(values)))

    for name in ("persona_breaker_open",):
        for s in samples:
            if s.name == name and s.value not in (0, 1):
                bad.append("%s is %s, not 0 or 1" % (name, s.value))

    hist = seen.get("persona_redis_latency_seconds")
    if hist is not None:
        buckets = [(float(s.labels["le"]), s.value) for s in hist.samples
                   if s.name.endswith("_bucket")]
        count = [s.value for s in hist.samples if s.name.endswith("_count")]
        total = [s.value for s in hist.samples if s.name.endswith("_sum")]
        if [b for b, _ in buckets] != BUCKETS:
            bad.append("histogram buckets %s" % [b for b, _ in buckets])
        values = [v for _, v in buckets]
        if values != sorted(values):
            bad.append("histogram buckets not cumulative: %s" % values)
        if len(count) != 1 or not values or count[0] != values[-1]:
            bad.append("histogram _count %s is not the +Inf bucket %s"
                       % (count, values[-1:]))
        if len(total) != 1:
            bad.append("histogram _sum missing")
        elif count and count[0] == 0 and total[0] != 0:
            bad.append("histogram _sum %s without observations" % total[0])

    lines = []
    for s in samples:
        labels = ",".join('%s="%s"' % (k, v)
                          for k, v in sorted(s.labels.items()))
        lines.append("%s{%s} %s" % (s.name, labels, fmt_value(s.value)))

    return bad, sorted(lines)


def main():
    bad, lines = check(sys.stdin.read())

    if bad:
        for b in bad:
            print("metrics BAD: %s" % b)
        return 1

    print("metrics ok")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
