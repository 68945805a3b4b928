/*
 * persona-report: A/B results and attribution from the events stream the
 * module writes with persona_track on (SPEC "Tracking", "Goals").
 *
 * Usage:
 *   persona-report [--redis ADDR] [--stream KEY] [--since T] [--until T]
 *                  [--rules FILE] [--json]
 *                  [experiments
 *                   | attribution --goal NAME
 *                                 --model first|last|linear|time-decay
 *                                 [--half-life 7d]
 *                                 [--by source|medium|campaign]]
 *
 *   --redis ADDR     host:port or unix:/path (default 127.0.0.1:6379)
 *   --stream KEY     default persona:events
 *   --since, --until the window, on the stream entry ids (the time of the
 *                    XADD): unix seconds (1764547200), a UTC date or time
 *                    (2026-12-01, 2026-12-01T08:00:00Z), "now", or an age
 *                    (90m, 12h, 7d, 2w: that long before now); default:
 *                    the whole stream
 *   --rules FILE     the rules, to know each experiment's control (its
 *                    first variant); without it the variant named
 *                    "control" is the control
 *   --json           one JSON document instead of text
 *
 * Reading: XRANGE in batches of 1000 over blocking hiredis (a command-line
 * tool may block).  Entries without an "id" are skipped; an entry without
 * "ts" takes the time of its stream id.  The arithmetic, what a visitor,
 * a converter and a touch are, is in tools/report_stats.h.
 *
 * Exit codes: 0 report printed, 1 Redis or rules error, 2 usage error.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "persona_rules.h"
#include "report_stats.h"


#define REPORT_BATCH  "1000"


typedef struct report_chunk_s  report_chunk_t;

struct report_chunk_s {
    report_chunk_t  *next;
    size_t           used;
    size_t           size;
    char             data[];
};


typedef struct {
    const char       *redis;
    const char       *stream;
    const char       *rules_path;
    int64_t           since;          /* ms, -1: from the start */
    int64_t           until;          /* ms, -1: to the end */
    int               json;
    int               attribution;
    const char       *goal;
    int               model;
    int64_t           half_life;      /* ms */
    int               by;

    report_event_t   *ev;
    size_t            nev;
    size_t            cap;
    uint64_t          entries;
    uint64_t          skipped;
    report_chunk_t   *chunks;
} report_t;


static int report_usage(void);
static int64_t report_time(const char *s, int64_t now);
static int64_t report_duration(const char *s);
static char *report_copy(report_t *rp, const char *s, size_t len);
static int report_read(report_t *rp);
static int report_entry(report_t *rp, redisReply *entry);
static void report_free(report_t *rp);
static void report_print_experiments(report_t *rp, report_experiments_t *r);
static void report_print_attribution(report_t *rp,
    report_attribution_t *a);
static void report_json_str(const char *s);
static void report_window(report_t *rp);


static const char  *report_by_names[] = { "source", "medium", "campaign" };
static const char  *report_model_names[] = {
    "first", "last", "linear", "time-decay"
};


int
main(int argc, char **argv)
{
    int                    i, rc;
    size_t                 k, j;
    int64_t                now;
    report_t               rp;
    persona_error_t        err;
    persona_rules_t       *rules;
    struct timeval         tv;
    const persona_experiment_t  *x;
    report_experiments_t   r;
    report_attribution_t   a;

    memset(&rp, 0, sizeof(report_t));
    rp.redis = "127.0.0.1:6379";
    rp.stream = "persona:events";
    rp.since = -1;
    rp.until = -1;
    rp.model = -1;
    rp.half_life = 7 * 86400000LL;

    gettimeofday(&tv, NULL);
    now = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc) {
            rp.redis = argv[++i];

        } else if (strcmp(argv[i], "--stream") == 0 && i + 1 < argc) {
            rp.stream = argv[++i];

        } else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
            rp.rules_path = argv[++i];

        } else if ((strcmp(argv[i], "--since") == 0
                    || strcmp(argv[i], "--until") == 0)
                   && i + 1 < argc)
        {
            int64_t t = report_time(argv[i + 1], now);

            if (t < 0) {
                fprintf(stderr, "persona-report: %s \"%s\": expected unix "
                        "seconds, YYYY-MM-DD[THH:MM[:SS]][Z], \"now\" or an "
                        "age such as 7d\n", argv[i], argv[i + 1]);
                return 2;
            }

            if (argv[i][2] == 's') {
                rp.since = t;

            } else {
                rp.until = t;
            }

            i++;

        } else if (strcmp(argv[i], "--json") == 0) {
            rp.json = 1;

        } else if (strcmp(argv[i], "--goal") == 0 && i + 1 < argc) {
            rp.goal = argv[++i];

        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            rp.model = report_model(argv[++i]);

            if (rp.model < 0) {
                fprintf(stderr, "persona-report: --model \"%s\": expected "
                        "first, last, linear or time-decay\n", argv[i]);
                return 2;
            }

        } else if (strcmp(argv[i], "--half-life") == 0 && i + 1 < argc) {
            rp.half_life = report_duration(argv[++i]);

            if (rp.half_life <= 0) {
                fprintf(stderr, "persona-report: --half-life \"%s\": "
                        "expected a duration such as 12h or 7d\n", argv[i]);
                return 2;
            }

        } else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            i++;

            for (k = 0; k < 3; k++) {
                if (strcmp(argv[i], report_by_names[k]) == 0) {
                    break;
                }
            }

            if (k == 3) {
                fprintf(stderr, "persona-report: --by \"%s\": expected "
                        "source, medium or campaign\n", argv[i]);
                return 2;
            }

            rp.by = (int) k;

        } else if (strcmp(argv[i], "experiments") == 0) {
            rp.attribution = 0;

        } else if (strcmp(argv[i], "attribution") == 0) {
            rp.attribution = 1;

        } else if (strcmp(argv[i], "--help") == 0
                   || strcmp(argv[i], "-h") == 0)
        {
            report_usage();
            return 0;

        } else {
            return report_usage();
        }
    }

    if (rp.attribution && (rp.goal == NULL || rp.model < 0)) {
        fprintf(stderr, "persona-report: attribution needs --goal NAME and "
                "--model first|last|linear|time-decay\n");
        return 2;
    }

    if (!rp.attribution && (rp.goal || rp.model >= 0)) {
        fprintf(stderr, "persona-report: --goal and --model are for "
                "\"attribution\"\n");
        return 2;
    }

    if (rp.since >= 0 && rp.until >= 0 && rp.since > rp.until) {
        fprintf(stderr, "persona-report: --since is after --until\n");
        return 2;
    }

    rules = NULL;

    if (rp.rules_path) {
        if (persona_rules_load(&rules, rp.rules_path, NULL, &err)
            != PERSONA_OK)
        {
            fprintf(stderr, "persona-report: %s\n", err.msg);
            return 1;
        }
    }

    if (report_read(&rp) != 0) {
        if (rules) {
            persona_rules_free(rules);
        }

        report_free(&rp);
        return 1;
    }

    rc = 0;

    if (rp.attribution) {
        if (report_attribute(rp.ev, rp.nev, rp.goal, rp.model, rp.half_life,
                             rp.by, &a)
            != 0)
        {
            fprintf(stderr, "persona-report: out of memory\n");
            rc = 1;

        } else {
            report_print_attribution(&rp, &a);
            report_attribution_free(&a);
        }

    } else if (report_experiments(rp.ev, rp.nev, &r) != 0) {
        fprintf(stderr, "persona-report: out of memory\n");
        rc = 1;

    } else {
        /* the rules' first variant is the control */

        for (k = 0; rules && k < rules->nexperiments; k++) {
            x = &rules->experiments[k];

            for (j = 0; j < r.nexperiments; j++) {
                if (strcmp(r.experiments[j].name, x->name.data) == 0) {
                    r.experiments[j].control = REPORT_NONE;
                    (void) report_set_control(&r.experiments[j],
                                              x->variants[0].name.data);
                }
            }
        }

        report_print_experiments(&rp, &r);
        report_experiments_free(&r);
    }

    if (rules) {
        persona_rules_free(rules);
    }

    report_free(&rp);

    return rc;
}


static int
report_usage(void)
{
    fprintf(stderr,
        "usage: persona-report [--redis ADDR] [--stream KEY] [--since T] "
        "[--until T]\n"
        "                      [--rules FILE] [--json]\n"
        "                      [experiments | attribution --goal NAME\n"
        "                       --model first|last|linear|time-decay\n"
        "                       [--half-life 7d] "
        "[--by source|medium|campaign]]\n"
        "  ADDR host:port or unix:/path (127.0.0.1:6379); KEY "
        "persona:events;\n"
        "  T unix seconds, YYYY-MM-DD[THH:MM[:SS]][Z] (UTC), now, or an age "
        "(90m, 12h, 7d, 2w)\n");

    return 2;
}


/* "90", "90s", "15m", "12h", "7d", "2w" -> ms, or -1 */
static int64_t
report_duration(const char *s)
{
    char       *end;
    long long   n;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    n = strtoll(s, &end, 10);

    if (errno || n > 100LL * 365 * 86400) {
        return -1;
    }

    if (*end == '\0' || strcmp(end, "s") == 0) {
        return n * 1000;
    }

    if (strcmp(end, "m") == 0) {
        return n * 60000;
    }

    if (strcmp(end, "h") == 0) {
        return n * 3600000;
    }

    if (strcmp(end, "d") == 0) {
        return n * 86400000;
    }

    if (strcmp(end, "w") == 0) {
        return n * 7 * 86400000;
    }

    return -1;
}


/* a point in time -> unix ms, or -1 */
static int64_t
report_time(const char *s, int64_t now)
{
    int         n;
    size_t      len;
    int64_t     d;
    struct tm   tm;
    char        tail[8];

    len = strlen(s);

    if (strcmp(s, "now") == 0) {
        return now;
    }

    if (len && strspn(s, "0123456789") == len && len <= 12) {
        return (int64_t) strtoll(s, NULL, 10) * 1000;
    }

    d = report_duration(s);

    if (d >= 0 && s[len - 1] >= 'a' && s[len - 1] <= 'z') {
        return now > d ? now - d : 0;
    }

    memset(&tm, 0, sizeof(struct tm));
    tail[0] = '\0';
    n = sscanf(s, "%4d-%2d-%2d%*[T ]%2d:%2d:%2d%7s", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, tail);

    if (n == 3 && len == 10) {
        /* a date */

    } else if (n == 5 || n == 6 || n == 7) {
        if (n == 5) {
            n = sscanf(s, "%4d-%2d-%2d%*[T ]%2d:%2d%7s", &tm.tm_year,
                       &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                       tail);
        }

        if (tail[0] && strcmp(tail, "Z") != 0) {
            return -1;
        }

    } else {
        return -1;
    }

    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1
        || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59
        || tm.tm_sec > 60 || tm.tm_year < 1970)
    {
        return -1;
    }

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;

    return (int64_t) timegm(&tm) * 1000;
}


static char *
report_copy(report_t *rp, const char *s, size_t len)
{
    char            *p;
    size_t           size;
    report_chunk_t  *c;

    c = rp->chunks;

    if (c == NULL || c->size - c->used < len + 1) {
        size = len + 1 > 1024 * 1024 ? len + 1 : 1024 * 1024;

        c = malloc(sizeof(report_chunk_t) + size);
        if (c == NULL) {
            return NULL;
        }

        c->next = rp->chunks;
        c->used = 0;
        c->size = size;
        rp->chunks = c;
    }

    p = c->data + c->used;
    memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;

    return p;
}


/* XRANGE in batches */
static int
report_read(report_t *rp)
{
    int            port;
    char           host[256], start[48], end[48];
    size_t         i, len, argvlen[6];
    const char    *colon, *argv[6];
    redisReply    *reply, *last;
    redisContext  *c;
    unsigned long long  ms, seq;

    struct timeval  tv = { 5, 0 };

    if (strncmp(rp->redis, "unix:", 5) == 0) {
        c = redisConnectUnixWithTimeout(rp->redis + 5, tv);

    } else {
        colon = strrchr(rp->redis, ':');
        len = colon ? (size_t) (colon - rp->redis) : 0;
        port = colon ? atoi(colon + 1) : 0;

        if (len == 0 || len >= sizeof(host) || port <= 0 || port > 65535) {
            fprintf(stderr, "persona-report: --redis \"%s\": expected "
                    "host:port or unix:/path\n", rp->redis);
            return -1;
        }

        memcpy(host, rp->redis, len);
        host[len] = '\0';

        c = redisConnectWithTimeout(host, port, tv);
    }

    if (c == NULL || c->err) {
        fprintf(stderr, "persona-report: cannot connect to %s: %s\n",
                rp->redis, c ? c->errstr : "out of memory");

        if (c) {
            redisFree(c);
        }

        return -1;
    }

    tv.tv_sec = 30;
    (void) redisSetTimeout(c, tv);

    if (rp->since >= 0) {
        snprintf(start, sizeof(start), "%lld", (long long) rp->since);

    } else {
        strcpy(start, "-");
    }

    if (rp->until >= 0) {
        snprintf(end, sizeof(end), "%lld", (long long) rp->until);

    } else {
        strcpy(end, "+");
    }

    for ( ;; ) {
        argv[0] = "XRANGE";
        argv[1] = rp->stream;
        argv[2] = start;
        argv[3] = end;
        argv[4] = "COUNT";
        argv[5] = REPORT_BATCH;

        for (i = 0; i < 6; i++) {
            argvlen[i] = strlen(argv[i]);
        }

        reply = redisCommandArgv(c, 6, argv, argvlen);

        if (reply == NULL) {
            fprintf(stderr, "persona-report: XRANGE %s: %s\n", rp->stream,
                    c->errstr);
            redisFree(c);
            return -1;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "persona-report: XRANGE %s: %s\n", rp->stream,
                    reply->str);
            freeReplyObject(reply);
            redisFree(c);
            return -1;
        }

        if (reply->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "persona-report: XRANGE %s: unexpected reply\n",
                    rp->stream);
            freeReplyObject(reply);
            redisFree(c);
            return -1;
        }

        for (i = 0; i < reply->elements; i++) {
            if (report_entry(rp, reply->element[i]) != 0) {
                fprintf(stderr, "persona-report: out of memory\n");
                freeReplyObject(reply);
                redisFree(c);
                return -1;
            }
        }

        if (reply->elements == 0) {
            freeReplyObject(reply);
            break;
        }

        /* the next batch starts just after the last id */

        last = reply->element[reply->elements - 1];

        if (last->type != REDIS_REPLY_ARRAY || last->elements < 1
            || last->element[0]->type != REDIS_REPLY_STRING
            || sscanf(last->element[0]->str, "%llu-%llu", &ms, &seq) != 2)
        {
            fprintf(stderr, "persona-report: unexpected stream id\n");
            freeReplyObject(reply);
            redisFree(c);
            return -1;
        }

        freeReplyObject(reply);

        if (seq == ~0ULL) {
            ms++;
            seq = 0;

        } else {
            seq++;
        }

        snprintf(start, sizeof(start), "%llu-%llu", ms, seq);
    }

    redisFree(c);

    return 0;
}


/* one stream entry: [id, [field, value, ...]] */
static int
report_entry(report_t *rp, redisReply *entry)
{
    size_t           i;
    char            *v;
    redisReply      *f, *k, *val;
    report_event_t  *e, *ev;

    rp->entries++;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[1]->type != REDIS_REPLY_ARRAY)
    {
        rp->skipped++;
        return 0;
    }

    if (rp->nev == rp->cap) {
        rp->cap = rp->cap ? 2 * rp->cap : 4096;

        ev = realloc(rp->ev, rp->cap * sizeof(report_event_t));
        if (ev == NULL) {
            return -1;
        }

        rp->ev = ev;
    }

    e = &rp->ev[rp->nev];
    memset(e, 0, sizeof(report_event_t));
    e->ts = strtoll(entry->element[0]->str, NULL, 10);

    f = entry->element[1];

    for (i = 0; i + 1 < f->elements; i += 2) {
        k = f->element[i];
        val = f->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING
            || memchr(val->str, '\0', val->len) != NULL)
        {
            continue;
        }

        if (strcmp(k->str, "ts") == 0) {
            e->ts = strtoll(val->str, NULL, 10);
            continue;
        }

        if (strcmp(k->str, "type") == 0) {
            e->type = strcmp(val->str, "exposure") == 0 ? REPORT_EXPOSURE
                      : strcmp(val->str, "conversion") == 0
                        ? REPORT_CONVERSION : 0;
            continue;
        }

        if (strcmp(k->str, "id") != 0 && strcmp(k->str, "goal") != 0
            && strcmp(k->str, "variants") != 0
            && strcmp(k->str, "utm_source") != 0
            && strcmp(k->str, "utm_medium") != 0
            && strcmp(k->str, "utm_campaign") != 0)
        {
            continue;
        }

        v = report_copy(rp, val->str, val->len);
        if (v == NULL) {
            return -1;
        }

        switch (k->str[0] == 'u' ? k->str[4] : k->str[0]) {
        case 'i': e->id = v; break;
        case 'g': e->goal = v; break;
        case 'v': e->variants = v; break;
        case 's': e->utm[REPORT_BY_SOURCE] = v; break;
        case 'm': e->utm[REPORT_BY_MEDIUM] = v; break;
        default:  e->utm[REPORT_BY_CAMPAIGN] = v; break;
        }
    }

    if (e->id == NULL || e->id[0] == '\0' || e->type == 0
        || (e->type == REPORT_CONVERSION && e->goal == NULL))
    {
        rp->skipped++;
        return 0;
    }

    rp->nev++;

    return 0;
}


static void
report_free(report_t *rp)
{
    report_chunk_t  *c, *next;

    for (c = rp->chunks; c; c = next) {
        next = c->next;
        free(c);
    }

    free(rp->ev);
}


/* the length of the valid UTF-8 sequence at p, or 0 */
static size_t
report_utf8(const unsigned char *p)
{
    size_t    n, i;
    uint32_t  c;

    if (*p < 0x80) {
        return 1;
    }

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
        c = *p & 0x1f;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        c = *p & 0x0f;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        c = *p & 0x07;

    } else {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)))
        || (n == 4 && (c < 0x10000 || c > 0x10ffff)))
    {
        return 0;
    }

    return n;
}


/* a JSON string; invalid UTF-8 becomes U+FFFD */
static void
report_json_str(const char *s)
{
    size_t                n;
    const unsigned char  *p;

    putchar('"');

    for (p = (const unsigned char *) s; *p; p += n) {
        n = report_utf8(p);

        if (n == 0) {
            printf("\\ufffd");
            n = 1;

        } else if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);

        } else if (*p < 0x20 || *p == 0x7f) {
            printf("\\u%04x", *p);

        } else {
            fwrite(p, 1, n, stdout);
        }
    }

    putchar('"');
}


/* text output: names without control bytes */
static const char *
report_text(const char *s)
{
    static char  buf[256];
    size_t       i;

    for (i = 0; s[i] && i < sizeof(buf) - 1; i++) {
        buf[i] = ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    }

    buf[i] = '\0';

    return buf;
}


static void
report_utc(int64_t ms, char *buf, size_t size)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


static void
report_window(report_t *rp)
{
    char  a[32], b[32];

    if (rp->since >= 0) {
        report_utc(rp->since, a, sizeof(a));

    } else {
        strcpy(a, "the start");
    }

    if (rp->until >= 0) {
        report_utc(rp->until, b, sizeof(b));

    } else {
        strcpy(b, "the end");
    }

    printf("stream %s", report_text(rp->stream));
    printf(" on %s, from %s to %s\n", report_text(rp->redis), a, b);
    printf("%llu entries read, %llu skipped (no id, type or goal)\n",
           (unsigned long long) rp->entries,
           (unsigned long long) rp->skipped);
}


static void
report_print_experiments(report_t *rp, report_experiments_t *r)
{
    size_t                 i, k, g;
    report_arm_t          *arm, *ctl;
    report_test_t          t;
    report_experiment_t   *x;

    if (rp->json) {
        printf("{\"stream\":");
        report_json_str(rp->stream);
        printf(",\"since_ms\":%lld,\"until_ms\":%lld",
               (long long) rp->since, (long long) rp->until);
        printf(",\"entries\":%llu,\"skipped\":%llu,\"exposures\":%llu,"
               "\"conversions\":%llu,\"visitors\":%llu",
               (unsigned long long) rp->entries,
               (unsigned long long) rp->skipped,
               (unsigned long long) r->exposures,
               (unsigned long long) r->conversions,
               (unsigned long long) r->visitors);
        printf(",\"test\":\"two-proportion z-test, two-sided p-value, "
               "95%% confidence interval of the difference\"");
        printf(",\"goals\":[");

        for (g = 0; g < r->ngoals; g++) {
            printf(g ? "," : "");
            report_json_str(r->goals[g]);
        }

        printf("],\"experiments\":[");

        for (i = 0; i < r->nexperiments; i++) {
            x = &r->experiments[i];
            ctl = x->control == REPORT_NONE ? NULL : &x->arms[x->control];

            printf("%s{\"name\":", i ? "," : "");
            report_json_str(x->name);
            printf(",\"control\":");

            if (ctl) {
                report_json_str(ctl->name);

            } else {
                printf("null");
            }

            printf(",\"variants\":[");

            for (k = 0; k < x->narms; k++) {
                arm = &x->arms[k];

                printf("%s{\"name\":", k ? "," : "");
                report_json_str(arm->name);
                printf(",\"visitors\":%llu,\"capped\":%llu,\"goals\":{",
                       (unsigned long long) arm->exposed,
                       (unsigned long long) arm->capped);

                for (g = 0; g < r->ngoals; g++) {
                    printf("%s", g ? "," : "");
                    report_json_str(r->goals[g]);
                    printf(":{\"converters\":%llu,\"rate\":%.6f",
                           (unsigned long long) arm->converted[g],
                           arm->exposed ? (double) arm->converted[g]
                                          / (double) arm->exposed : 0.0);

                    if (ctl == NULL || arm == ctl) {
                        printf("}");
                        continue;
                    }

                    report_ztest(ctl->converted[g], ctl->exposed,
                                 arm->converted[g], arm->exposed, &t);

                    if (!t.valid) {
                        printf("}");
                        continue;
                    }

                    printf(",\"lift\":");

                    if (t.lift_defined) {
                        printf("%.6f", t.lift);

                    } else {
                        printf("null");
                    }

                    printf(",\"diff\":%.6f,\"ci95\":[%.6f,%.6f],\"z\":%.4f,"
                           "\"p_value\":%.6g}", t.diff, t.ci_lo, t.ci_hi,
                           t.z, t.p_value);
                }

                printf("}}");
            }

            printf("]}");
        }

        printf("]}\n");
        return;
    }

    report_window(rp);
    printf("%llu exposures, %llu conversions, %llu visitors exposed\n",
           (unsigned long long) r->exposures,
           (unsigned long long) r->conversions,
           (unsigned long long) r->visitors);

    if (r->nexperiments == 0) {
        printf("\nno experiments in these events\n");
        return;
    }

    for (i = 0; i < r->nexperiments; i++) {
        x = &r->experiments[i];
        ctl = x->control == REPORT_NONE ? NULL : &x->arms[x->control];

        printf("\nexperiment %s", report_text(x->name));

        if (ctl) {
            printf(" (control: %s)\n", report_text(ctl->name));

        } else {
            printf(" (no control known: give --rules or name a variant "
                   "\"control\")\n");
        }

        printf("  %-20s %10s %8s\n", "variant", "visitors", "capped");

        for (k = 0; k < x->narms; k++) {
            arm = &x->arms[k];
            printf("  %-20s %10llu %8llu\n", report_text(arm->name),
                   (unsigned long long) arm->exposed,
                   (unsigned long long) arm->capped);
        }

        for (g = 0; g < r->ngoals; g++) {
            printf("  goal %s\n", report_text(r->goals[g]));
            printf("    %-20s %10s %8s %9s %9s  %-22s %8s\n", "variant",
                   "converters", "rate", "lift", "diff", "95% CI of diff",
                   "p-value");

            for (k = 0; k < x->narms; k++) {
                arm = &x->arms[k];

                printf("    %-20s %10llu %7.2f%%", report_text(arm->name),
                       (unsigned long long) arm->converted[g],
                       arm->exposed ? 100.0 * (double) arm->converted[g]
                                      / (double) arm->exposed : 0.0);

                if (ctl == NULL || arm == ctl) {
                    printf(" %9s %9s  %-22s %8s\n", "-", "-", "-", "-");
                    continue;
                }

                report_ztest(ctl->converted[g], ctl->exposed,
                             arm->converted[g], arm->exposed, &t);

                if (!t.valid) {
                    printf(" %9s %9s  %-22s %8s\n", "-", "-", "-", "-");
                    continue;
                }

                if (t.lift_defined) {
                    printf(" %+8.2f%%", 100.0 * t.lift);

                } else {
                    printf(" %9s", "-");
                }

                {
                    char  ci[64];

                    snprintf(ci, sizeof(ci), "[%+.2f, %+.2f] pp",
                             100.0 * t.ci_lo, 100.0 * t.ci_hi);
                    printf(" %+6.2f pp  %-22s %8.4f\n", 100.0 * t.diff, ci,
                           t.p_value);
                }
            }
        }
    }

    printf("\nvisitors: unique ids in the arm of their first exposure "
           "(\"-capped\" exposures count\nin their variant; \"capped\" = "
           "visitors who hit the cap); converters: unique ids\nwith a "
           "conversion at or after that exposure.  lift = (rate - control) / "
           "control;\ndiff in percentage points.  Statistics: two-proportion "
           "z-test (pooled standard\nerror), two-sided p-value; 95%% "
           "confidence interval of the difference (unpooled).\n");
}


static void
report_print_attribution(report_t *rp, report_attribution_t *a)
{
    size_t  i;

    if (rp->json) {
        printf("{\"stream\":");
        report_json_str(rp->stream);
        printf(",\"since_ms\":%lld,\"until_ms\":%lld,\"entries\":%llu,"
               "\"skipped\":%llu,\"goal\":",
               (long long) rp->since, (long long) rp->until,
               (unsigned long long) rp->entries,
               (unsigned long long) rp->skipped);
        report_json_str(rp->goal);
        printf(",\"model\":\"%s\",\"by\":\"%s\"",
               report_model_names[rp->model], report_by_names[rp->by]);

        if (rp->model == REPORT_DECAY) {
            printf(",\"half_life_seconds\":%lld",
                   (long long) (rp->half_life / 1000));
        }

        printf(",\"conversions\":%llu,\"direct\":%llu,\"credits\":[",
               (unsigned long long) a->conversions,
               (unsigned long long) a->direct);

        for (i = 0; i < a->ncredits; i++) {
            printf("%s{\"%s\":", i ? "," : "", report_by_names[rp->by]);
            report_json_str(a->credits[i].key);
            printf(",\"credit\":%.6f,\"share\":%.6f}", a->credits[i].credit,
                   a->conversions ? a->credits[i].credit
                                    / (double) a->conversions : 0.0);
        }

        printf("]}\n");
        return;
    }

    report_window(rp);
    printf("goal %s, model %s", report_text(rp->goal),
           report_model_names[rp->model]);

    if (rp->model == REPORT_DECAY) {
        printf(" (half-life %lld s)", (long long) (rp->half_life / 1000));
    }

    printf(", credit by utm_%s\n", report_by_names[rp->by]);
    printf("%llu conversions, %llu without a touch (direct)\n\n",
           (unsigned long long) a->conversions,
           (unsigned long long) a->direct);

    printf("  %-32s %10s %7s\n", report_by_names[rp->by], "credit", "share");

    for (i = 0; i < a->ncredits; i++) {
        printf("  %-32s %10.2f %6.1f%%\n", report_text(a->credits[i].key),
               a->credits[i].credit,
               a->conversions ? 100.0 * a->credits[i].credit
                                / (double) a->conversions : 0.0);
    }

    printf("\ntouches: the visitor's visits with utm_source at or before "
           "each conversion;\neach conversion's credit of 1 is split by the "
           "model.\n");
}
