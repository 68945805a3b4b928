/*
 * Tracking and caps without Redis: the exact commands written (argv by
 * argv), cap decisions, cap counter replies, prefetch headers, control
 * bytes and paths.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "persona_track.h"


#define S(s)  ((persona_str_t) { s, sizeof(s) - 1 })


/* the command as one line, arguments separated by "|" */
static const char *
line(const persona_track_cmd_t *cmd)
{
    int          i;
    size_t       n;
    static char  buf[2048];

    n = 0;

    for (i = 0; i < cmd->argc; i++) {
        if (i) {
            buf[n++] = '|';
        }

        memcpy(buf + n, cmd->argv[i], cmd->argvlen[i]);
        n += cmd->argvlen[i];
    }

    buf[n] = '\0';

    return buf;
}


static void
test_xadd(void **state)
{
    persona_track_cmd_t    cmd;
    persona_track_event_t  ev;

    memset(&ev, 0, sizeof(ev));

    ev.stream = S("persona:events");
    ev.maxlen = 1000000;
    ev.type = S("exposure");
    ev.id = S("v1");
    ev.segment = S("vip");
    ev.segments = S("vip,spender");
    ev.variants = S("hero=urgency");
    ev.path = S("/");
    ev.status = S("ok");
    ev.ts = 1764720000123ULL;

    persona_track_xadd(&cmd, &ev);
    assert_string_equal(line(&cmd),
                        "XADD|persona:events|MAXLEN|~|1000000|*|type|exposure"
                        "|id|v1|segment|vip|segments|vip,spender|variants"
                        "|hero=urgency|path|/|status|ok|ts|1764720000123");

    ev.type = S("conversion");
    ev.goal = S("purchase");
    ev.segments = S("");
    ev.utm[0] = S("news");
    ev.utm[2] = S("q4");
    ev.referer_host = S("www.example.com");

    persona_track_xadd(&cmd, &ev);
    assert_string_equal(line(&cmd),
                        "XADD|persona:events|MAXLEN|~|1000000|*|type"
                        "|conversion|goal|purchase|id|v1|segment|vip"
                        "|segments||variants|hero=urgency|path|/|status|ok"
                        "|ts|1764720000123|utm_source|news|utm_campaign|q4"
                        "|referer_host|www.example.com");
}


static void
test_profile(void **state)
{
    persona_track_cmd_t  cmds[6];

    assert_int_equal(persona_track_profile(cmds, S("persona:profile:v1"),
                                           1764720000, S(""), S(""), S("")),
                     2);
    assert_string_equal(line(&cmds[0]),
                        "HINCRBY|persona:profile:v1|visits|1");
    assert_string_equal(line(&cmds[1]),
                        "HSET|persona:profile:v1|last_seen|1764720000");

    assert_int_equal(persona_track_profile(cmds, S("k"), 5, S("news"),
                                           S(""), S("q4")),
                     6);
    assert_string_equal(line(&cmds[2]), "HSETNX|k|first_touch_source|news");
    assert_string_equal(line(&cmds[3]), "HSETNX|k|first_touch_medium|");
    assert_string_equal(line(&cmds[4]), "HSETNX|k|first_touch_campaign|q4");
    assert_string_equal(line(&cmds[5]),
                        "HSET|k|last_touch_source|news|last_touch_medium|"
                        "|last_touch_campaign|q4");
}


static void
test_caps(void **state)
{
    char                  buf[64];
    size_t                n;
    redisReply            r;
    persona_variant_t     v[2];
    persona_experiment_t  x;
    persona_track_cmd_t   cmds[2];

    n = persona_track_cap_key(buf, S("persona:{v1}:profile"), S("hero"));
    assert_int_equal(n, strlen("persona:{v1}:profile:cap:hero"));
    assert_memory_equal(buf, "persona:{v1}:profile:cap:hero", n);

    assert_int_equal(persona_track_cap_incr(cmds, S("k:cap:x"), 86400), 2);
    assert_string_equal(line(&cmds[0]), "SET|k:cap:x|0|EX|86400|NX");
    assert_string_equal(line(&cmds[1]), "INCR|k:cap:x");

    persona_track_cap_get(&cmds[0], S("k:cap:x"));
    assert_string_equal(line(&cmds[0]), "GET|k:cap:x");

    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_NIL;
    assert_int_equal(persona_track_cap_count(&r), 0);
    r.type = REDIS_REPLY_STRING;
    r.str = "12";
    r.len = 2;
    assert_int_equal(persona_track_cap_count(&r), 12);
    r.str = "1x";
    assert_int_equal(persona_track_cap_count(&r), -1);
    r.len = 0;
    assert_int_equal(persona_track_cap_count(&r), -1);
    r.type = REDIS_REPLY_ERROR;
    r.str = "WRONGTYPE";
    r.len = 9;
    assert_int_equal(persona_track_cap_count(&r), -1);
    r.type = REDIS_REPLY_INTEGER;
    r.integer = 4;
    assert_int_equal(persona_track_cap_count(&r), 4);
    assert_int_equal(persona_track_cap_count(NULL), -1);

    memset(&x, 0, sizeof(x));
    memset(v, 0, sizeof(v));
    x.variants = v;
    x.nvariants = 2;

    assert_false(persona_track_capped(&x, &v[1], 100));  /* no cap */

    x.cap_max = 3;
    assert_false(persona_track_capped(&x, &v[1], 2));
    assert_true(persona_track_capped(&x, &v[1], 3));
    assert_true(persona_track_capped(&x, &v[1], 4));
    assert_false(persona_track_capped(&x, &v[0], 9));    /* control */
    assert_false(persona_track_capped(&x, &v[1], -1));   /* unknown */
    assert_false(persona_track_capped(&x, NULL, 9));     /* holdout */
}


static void
test_prefetch(void **state)
{
    assert_true(persona_track_prefetch("prefetch", 8));
    assert_true(persona_track_prefetch("Prefetch", 8));
    assert_true(persona_track_prefetch("prefetch;prerender", 18));
    assert_true(persona_track_prefetch(" prefetch ", 10));
    assert_false(persona_track_prefetch("prerender", 9));
    assert_false(persona_track_prefetch("prefetcher", 10));
    assert_false(persona_track_prefetch("", 0));
}


static void
test_clean_path(void **state)
{
    char    buf[16];
    size_t  n;

    n = persona_track_clean(buf, "a\r\nb\x7f\tc\x01", 9);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "abc", 3);

    assert_int_equal(persona_track_path_len("/a/b?x=1?y", 10), 4);
    assert_int_equal(persona_track_path_len("/a/b", 4), 4);
    assert_int_equal(persona_track_path_len("?q", 2), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_xadd),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_prefetch),
        cmocka_unit_test(test_clean_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
