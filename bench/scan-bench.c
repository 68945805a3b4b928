/*
 * Microbenchmark of the injection scan (the pure core, no nginx): how
 * fast persona_html_scan() and persona_inject_feed() go over a page.
 *
 *   make bench-scan                     (the 200 KiB page of make bench)
 *   build/scan-bench PAGE [SECONDS]     (any file)
 *
 * For each of a few chunk sizes (32 KiB is what nginx's copy filter
 * hands the body filter for a static file with the default
 * output_buffers) it feeds the whole page again and again for about
 * SECONDS (default 1) and prints MB/s and the µs one page costs:
 *
 *   html     persona_html_scan() alone, stop at no '<'
 *   inject   persona_inject_feed() with a block for every slot and a
 *            handler that only counts events (the data layer on)
 *
 * The machine may be shared: compare builds in one go (the report is
 * per build; run the old and the new binary back to back, twice).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "persona_html.h"
#include "persona_inject.h"


typedef struct {
    size_t  events;
    size_t  bytes;
} bench_count_t;


static double bench_now(void);
static int bench_has_block(void *data, const char *name, size_t len);
static int bench_handler(void *data, const persona_inject_event_t *ev);


int
main(int argc, char **argv)
{
    FILE                   *fp;
    char                   *page;
    long                    size;
    size_t                  i, off, n, pages, chunks[] = { 32768, 4096, 512 };
    double                  seconds, t0, t;
    bench_count_t           count;
    persona_html_t          h;
    persona_inject_t        st;
    persona_inject_conf_t   conf;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PAGE [SECONDS]\n", argv[0]);
        return 2;
    }

    seconds = argc > 2 ? atof(argv[2]) : 1.0;

    fp = fopen(argv[1], "rb");
    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) <= 0
        || fseek(fp, 0, SEEK_SET) != 0)
    {
        perror(argv[1]);
        return 1;
    }

    page = malloc(size);
    if (page == NULL || fread(page, 1, size, fp) != (size_t) size) {
        perror(argv[1]);
        return 1;
    }

    fclose(fp);

    printf("page %s: %ld bytes\n", argv[1], size);

    /* the tokenizer alone */

    t0 = bench_now();
    pages = 0;

    do {
        for (i = 0; i < 16; i++) {
            persona_html_init(&h);
            (void) persona_html_scan(&h, page, page + size, 0);
        }

        pages += 16;
        t = bench_now() - t0;

    } while (t < seconds);

    printf("html   whole page  %8.0f MB/s  %8.1f us/page\n",
           (double) size * pages / t / 1e6, t / pages * 1e6);

    /* the injector, in chunks */

    memset(&conf, 0, sizeof(persona_inject_conf_t));
    conf.has_block = bench_has_block;
    conf.handler = bench_handler;
    conf.data = &count;
    conf.hold_max = 16384;
    conf.data_layer = 1;

    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        memset(&count, 0, sizeof(bench_count_t));

        t0 = bench_now();
        pages = 0;

        do {
            persona_inject_init(&st, &conf);

            for (off = 0; off < (size_t) size; off += n) {
                n = size - off < chunks[i] ? size - off : chunks[i];

                if (persona_inject_feed(&st, page + off, n,
                                        off + n == (size_t) size)
                    != PERSONA_OK)
                {
                    fprintf(stderr, "persona_inject_feed() failed\n");
                    return 1;
                }
            }

            pages++;
            t = bench_now() - t0;

        } while (t < seconds);

        printf("inject chunk %5zu %8.0f MB/s  %8.1f us/page"
               "  (%zu events/page)\n",
               chunks[i], (double) size * pages / t / 1e6,
               t / pages * 1e6, count.events / pages);
    }

    free(page);

    return 0;
}


static double
bench_now(void)
{
    struct timespec  ts;

    /* CPU time of this process: a loaded machine steals less of it */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int
bench_has_block(void *data, const char *name, size_t len)
{
    return 1;
}


static int
bench_handler(void *data, const persona_inject_event_t *ev)
{
    bench_count_t  *count = data;

    count->events++;
    count->bytes += ev->len;

    return PERSONA_OK;
}
