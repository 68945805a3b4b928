/*
 * Tracking and frequency caps: the Redis commands written after a
 * response, and the decisions behind them, without I/O.
 *
 * The glue (ngx_http_persona_track.c) fills the structures below from the
 * request and sends the commands fire-and-forget.  Every string is sent
 * as one argv element (never spliced into a command); values that come
 * from the visitor (UTM arguments, referer host) have their control bytes
 * removed first (persona_track_clean()).
 */

#ifndef PERSONA_TRACK_H
#define PERSONA_TRACK_H

#include <hiredis/hiredis.h>

#include "persona_rules.h"


#define PERSONA_TRACK_ARGV_MAX   40

/* the capped experiments of a rule set whose counters one lookup reads */
#define PERSONA_TRACK_CAPS_MAX   32

/* utm_source, utm_medium, utm_campaign, utm_term, utm_content */
#define PERSONA_TRACK_UTM        5


/* one command; its numbers are formatted into num[] */
typedef struct {
    int                 argc;
    const char         *argv[PERSONA_TRACK_ARGV_MAX];
    size_t              argvlen[PERSONA_TRACK_ARGV_MAX];
    char                num[2][24];
} persona_track_cmd_t;


/* an event of the stream: "exposure", or "conversion" of goal */
typedef struct {
    persona_str_t       stream;
    uint64_t            maxlen;
    persona_str_t       type;
    persona_str_t       goal;          /* conversion only */
    persona_str_t       id;
    persona_str_t       segment;
    persona_str_t       segments;
    persona_str_t       variants;
    persona_str_t       path;
    persona_str_t       status;
    uint64_t            ts;            /* unix milliseconds */
    persona_str_t       utm[PERSONA_TRACK_UTM];   /* empty: absent */
    persona_str_t       referer_host;  /* empty: absent */
} persona_track_event_t;


extern const persona_str_t  persona_track_utm_names[PERSONA_TRACK_UTM];


/*
 * XADD <stream> MAXLEN ~ <maxlen> * type <type> [goal <goal>] id <id>
 * segment <seg> segments <list> variants <exp=variant,...> path <path>
 * status <status> ts <ms> [utm_* <value>]... [referer_host <host>]
 */
void persona_track_xadd(persona_track_cmd_t *cmd,
    const persona_track_event_t *ev);

/*
 * The profile writes of a visit to a hash profile, into cmds[0..5]:
 * HINCRBY key visits 1, HSET key last_seen <now>, and when source is not
 * empty HSETNX key first_touch_source/_medium/_campaign (an absent medium
 * or campaign is written empty, so the first touch stays one touch) and
 * HSET key last_touch_source .. _medium .. _campaign ...  Returns how
 * many commands were written (2 or 6).
 */
size_t persona_track_profile(persona_track_cmd_t *cmds, persona_str_t key,
    uint64_t now, persona_str_t source, persona_str_t medium,
    persona_str_t campaign);

/*
 * The counter of a capped exposure, into cmds[0..1]: SET <cap key> 0 EX
 * <per> NX (the expiry starts with the first exposure of a period), then
 * INCR <cap key>.  Returns 2.
 */
size_t persona_track_cap_incr(persona_track_cmd_t *cmds, persona_str_t key,
    unsigned per);

/* GET <cap key> */
void persona_track_cap_get(persona_track_cmd_t *cmd, persona_str_t key);

/*
 * The cap key "<profile key>:cap:<experiment>" into buf (room for
 * key.len + 5 + name.len bytes); returns its length.
 */
size_t persona_track_cap_key(char *buf, persona_str_t key,
    persona_str_t experiment);

/*
 * The counter a GET returned: 0 for nil, the value for a decimal string
 * or an integer; -1 for anything else (an error reply, garbage: the cap
 * is then not applied).
 */
long long persona_track_cap_count(const redisReply *reply);

/*
 * 1 when the visitor, bucketed into variant v of capped experiment x,
 * has been shown a non-control variant count times or more (count < 0:
 * unknown, not capped).
 */
int persona_track_capped(const persona_experiment_t *x,
    const persona_variant_t *v, long long count);

/* 1 when a Sec-Purpose or Purpose header value asks for a prefetch */
int persona_track_prefetch(const char *value, size_t len);

/*
 * Copies src without control bytes (< 0x20 and 0x7f) into dst (room for
 * len bytes); returns the length written.
 */
size_t persona_track_clean(char *dst, const char *src, size_t len);

/* the path of a request URI: up to the first "?" */
size_t persona_track_path_len(const char *uri, size_t len);


#endif /* PERSONA_TRACK_H */
