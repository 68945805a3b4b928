/*
 * Tracking and frequency caps: see persona_track.h.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "persona_track.h"


#define persona_track_lit(s)  { s, sizeof(s) - 1 }


const persona_str_t  persona_track_utm_names[PERSONA_TRACK_UTM] = {
    persona_track_lit("utm_source"),
    persona_track_lit("utm_medium"),
    persona_track_lit("utm_campaign"),
    persona_track_lit("utm_term"),
    persona_track_lit("utm_content")
};


static void persona_track_arg(persona_track_cmd_t *cmd, const char *s,
    size_t len);
static void persona_track_lit_arg(persona_track_cmd_t *cmd, const char *s);
static void persona_track_str(persona_track_cmd_t *cmd, persona_str_t s);
static void persona_track_num(persona_track_cmd_t *cmd, int slot,
    unsigned long long n);
static void persona_track_field(persona_track_cmd_t *cmd, const char *name,
    persona_str_t value);


static void
persona_track_arg(persona_track_cmd_t *cmd, const char *s, size_t len)
{
    if (cmd->argc >= PERSONA_TRACK_ARGV_MAX) {
        return;
    }

    cmd->argv[cmd->argc] = s ? s : "";
    cmd->argvlen[cmd->argc] = s ? len : 0;
    cmd->argc++;
}


static void
persona_track_lit_arg(persona_track_cmd_t *cmd, const char *s)
{
    persona_track_arg(cmd, s, strlen(s));
}


static void
persona_track_str(persona_track_cmd_t *cmd, persona_str_t s)
{
    persona_track_arg(cmd, s.data, s.len);
}


static void
persona_track_num(persona_track_cmd_t *cmd, int slot, unsigned long long n)
{
    int  len;

    len = snprintf(cmd->num[slot], sizeof(cmd->num[slot]), "%llu", n);
    persona_track_arg(cmd, cmd->num[slot], (size_t) len);
}


static void
persona_track_field(persona_track_cmd_t *cmd, const char *name,
    persona_str_t value)
{
    persona_track_lit_arg(cmd, name);
    persona_track_str(cmd, value);
}


void
persona_track_xadd(persona_track_cmd_t *cmd, const persona_track_event_t *ev)
{
    size_t  i;

    cmd->argc = 0;

    persona_track_lit_arg(cmd, "XADD");
    persona_track_str(cmd, ev->stream);
    persona_track_lit_arg(cmd, "MAXLEN");
    persona_track_lit_arg(cmd, "~");
    persona_track_num(cmd, 0, ev->maxlen);
    persona_track_lit_arg(cmd, "*");

    persona_track_field(cmd, "type", ev->type);

    if (ev->goal.len) {
        persona_track_field(cmd, "goal", ev->goal);
    }

    persona_track_field(cmd, "id", ev->id);
    persona_track_field(cmd, "segment", ev->segment);
    persona_track_field(cmd, "segments", ev->segments);
    persona_track_field(cmd, "variants", ev->variants);
    persona_track_field(cmd, "path", ev->path);
    persona_track_field(cmd, "status", ev->status);
    persona_track_lit_arg(cmd, "ts");
    persona_track_num(cmd, 1, ev->ts);

    for (i = 0; i < PERSONA_TRACK_UTM; i++) {
        if (ev->utm[i].len) {
            persona_track_str(cmd, persona_track_utm_names[i]);
            persona_track_str(cmd, ev->utm[i]);
        }
    }

    if (ev->referer_host.len) {
        persona_track_field(cmd, "referer_host", ev->referer_host);
    }
}


size_t
persona_track_profile(persona_track_cmd_t *cmds, persona_str_t key,
    uint64_t now, persona_str_t source, persona_str_t medium,
    persona_str_t campaign)
{
    size_t                i;
    persona_str_t         v[3];
    persona_track_cmd_t  *c;

    static const char  *first[3] = {
        "first_touch_source", "first_touch_medium", "first_touch_campaign"
    };

    static const char  *last[3] = {
        "last_touch_source", "last_touch_medium", "last_touch_campaign"
    };

    c = &cmds[0];
    c->argc = 0;
    persona_track_lit_arg(c, "HINCRBY");
    persona_track_str(c, key);
    persona_track_lit_arg(c, "visits");
    persona_track_lit_arg(c, "1");

    c = &cmds[1];
    c->argc = 0;
    persona_track_lit_arg(c, "HSET");
    persona_track_str(c, key);
    persona_track_lit_arg(c, "last_seen");
    persona_track_num(c, 0, now);

    if (source.len == 0) {
        return 2;
    }

    v[0] = source;
    v[1] = medium;
    v[2] = campaign;

    for (i = 0; i < 3; i++) {
        c = &cmds[2 + i];
        c->argc = 0;
        persona_track_lit_arg(c, "HSETNX");
        persona_track_str(c, key);
        persona_track_field(c, first[i], v[i]);
    }

    c = &cmds[5];
    c->argc = 0;
    persona_track_lit_arg(c, "HSET");
    persona_track_str(c, key);

    for (i = 0; i < 3; i++) {
        persona_track_field(c, last[i], v[i]);
    }

    return 6;
}


size_t
persona_track_cap_incr(persona_track_cmd_t *cmds, persona_str_t key,
    unsigned per)
{
    persona_track_cmd_t  *c;

    c = &cmds[0];
    c->argc = 0;
    persona_track_lit_arg(c, "SET");
    persona_track_str(c, key);
    persona_track_lit_arg(c, "0");
    persona_track_lit_arg(c, "EX");
    persona_track_num(c, 0, per);
    persona_track_lit_arg(c, "NX");

    c = &cmds[1];
    c->argc = 0;
    persona_track_lit_arg(c, "INCR");
    persona_track_str(c, key);

    return 2;
}


void
persona_track_cap_get(persona_track_cmd_t *cmd, persona_str_t key)
{
    cmd->argc = 0;
    persona_track_lit_arg(cmd, "GET");
    persona_track_str(cmd, key);
}


size_t
persona_track_cap_key(char *buf, persona_str_t key, persona_str_t experiment)
{
    char  *p;

    p = buf;

    if (key.len) {
        memcpy(p, key.data, key.len);
        p += key.len;
    }

    memcpy(p, ":cap:", 5);
    p += 5;

    if (experiment.len) {
        memcpy(p, experiment.data, experiment.len);
        p += experiment.len;
    }

    return (size_t) (p - buf);
}


long long
persona_track_cap_count(const redisReply *reply)
{
    size_t     i;
    long long  n;

    if (reply == NULL) {
        return -1;
    }

    switch (reply->type) {

    case REDIS_REPLY_NIL:
        return 0;

    case REDIS_REPLY_INTEGER:
        return reply->integer < 0 ? -1 : reply->integer;

    case REDIS_REPLY_STRING:
        if (reply->len == 0 || reply->len > 18) {
            return -1;
        }

        n = 0;

        for (i = 0; i < reply->len; i++) {
            if (reply->str[i] < '0' || reply->str[i] > '9') {
                return -1;
            }

            n = n * 10 + (reply->str[i] - '0');
        }

        return n;

    default:
        return -1;
    }
}


int
persona_track_capped(const persona_experiment_t *x,
    const persona_variant_t *v, long long count)
{
    if (x->cap_max == 0 || v == NULL || x->nvariants == 0
        || v == &x->variants[0] || count < 0)
    {
        return 0;
    }

    return count >= (long long) x->cap_max;
}


int
persona_track_prefetch(const char *value, size_t len)
{
    size_t  i, k, start;

    static const char  word[] = "prefetch";

    /* a list of tokens ("prefetch;prerender"): any one that is prefetch */

    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && value[i] != ';' && value[i] != ',') {
            continue;
        }

        while (start < i && (value[start] == ' ' || value[start] == '\t')) {
            start++;
        }

        if (i - start >= sizeof(word) - 1
            && strncasecmp(value + start, word, sizeof(word) - 1) == 0)
        {
            for (k = start + sizeof(word) - 1; k < i; k++) {
                if (value[k] != ' ' && value[k] != '\t') {
                    break;
                }
            }

            if (k == i) {
                return 1;
            }
        }

        start = i + 1;
    }

    return 0;
}


size_t
persona_track_clean(char *dst, const char *src, size_t len)
{
    size_t          i, n;
    unsigned char   c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if (c < 0x20 || c == 0x7f) {
            continue;
        }

        dst[n++] = (char) c;
    }

    return n;
}


size_t
persona_track_path_len(const char *uri, size_t len)
{
    const char  *q;

    q = memchr(uri, '?', len);

    return q ? (size_t) (q - uri) : len;
}
