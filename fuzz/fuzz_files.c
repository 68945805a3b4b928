/*
 * libFuzzer target: the files the rules loader opens, on a real file
 * system (the POSIX reader of src/persona_rules.c), SPEC "Files".
 *
 * Per input, a small rules directory R is built in a per-process
 * directory on a tmpfs (/dev/shm, else $TMPDIR or /tmp; FUZZ_FILES_TMP
 * overrides), next to an "outside" directory whose files hold a canary:
 *
 *   base/outside/   canary.html, c.html, d.html, canary.json (canary)
 *   base/current -> rules            (a symlinked release folder)
 *   base/rules/     R: in/ (regular files inside), rules.json, and the
 *                   slots below
 *
 *   byte 0        bit 0: load the directory, else R/rules.json;
 *                 bit 1: load it through base/current
 *   byte 1        what "blocks" is: a directory, absent, a symlink to
 *                 outside (absolute or relative) or to in/, a FIFO, a
 *                 regular file
 *   bytes 2-6     what a.html, b.html, blocks/c.html, blocks/d.html and
 *                 z.json are: absent, a regular file, a symlink inside
 *                 (relative, absolute, through base/current, through
 *                 another slot), a symlink to the canary (absolute,
 *                 relative, through in/..), a FIFO, a directory,
 *                 /dev/null, dangling, a loop
 *   bytes 7-8     which paths rules.json names as block files (the slots,
 *                 "blocks", "..", "./", in/)
 *
 * Checks, trapping on failure:
 *   - loading never blocks (libFuzzer's -timeout; its SIGALRM handler is
 *     given SA_RESTART, or the alarm would end a blocked open() of a FIFO
 *     with EINTR, and the load would just fail);
 *   - it fails exactly when a file it must read (a named block file;
 *     with the directory, every *.json) has "..", or does not resolve to
 *     a regular file inside R as resolved; the error says something;
 *   - after a load, every file read resolves inside R and no block holds
 *     the canary;
 *   - no file descriptor is left open.
 * The directory is emptied before every input and removed at exit; the
 * ones of processes that died (a timeout) are removed at the next start.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persona_rules.h"
#include "persona_template.h"
#include "fuzz_util.h"


#define CANARY      "persona-canary-7f3a"
#define PREFIX      "persona-fuzz-files."
#define NSLOTS      5
#define Z_JSON                                                                \
    "{\"segments\":[{\"name\":\"z\",\"when\":{\"arg.z\":\"1\"}}],"             \
    "\"experiences\":{\"z\":{}}}"

static const char  *slots[NSLOTS] = {
    "a.html", "b.html", "blocks/c.html", "blocks/d.html", "z.json"
};

static const char  *refs[] = {
    "a.html", "b.html", "blocks/c.html", "blocks/d.html", "z.json",
    "blocks", "../outside/canary.html", "in/../a.html", "./a.html",
    "in/inside.html"
};

#define NREFS  (sizeof(refs) / sizeof(refs[0]))

static char  base[PATH_MAX], rdir[PATH_MAX], real_rdir[PATH_MAX];


static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) remove(path);
    return 0;
}


static void
rm_tree(const char *path)
{
    (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}


static void
cleanup(void)
{
    if (base[0]) {
        rm_tree(base);
    }
}


/* the directories of processes that are gone (killed on a timeout) */
static void
rm_stale(const char *tmp)
{
    DIR            *d;
    long            pid;
    char            path[PATH_MAX];
    struct dirent  *de;

    d = opendir(tmp);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, PREFIX, sizeof(PREFIX) - 1) != 0) {
            continue;
        }

        pid = strtol(de->d_name + sizeof(PREFIX) - 1, NULL, 10);

        if (pid > 0 && kill((pid_t) pid, 0) == -1 && errno == ESRCH) {
            snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
            rm_tree(path);
        }
    }

    closedir(d);
}


static void
put(const char *dir, const char *name, const char *text)
{
    int   fd;
    char  path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    check(fd != -1);
    check(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
}


static void
setup(void)
{
    const char        *tmp;
    char               path[PATH_MAX];
    struct sigaction   sa;

    /* libFuzzer's timeout alarm must not end a blocked open() */
    if (sigaction(SIGALRM, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) {
        sa.sa_flags |= SA_RESTART;
        (void) sigaction(SIGALRM, &sa, NULL);
    }

    tmp = getenv("FUZZ_FILES_TMP");

    if (tmp == NULL) {
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    }

    if (tmp == NULL) {
        tmp = "/tmp";
    }

    rm_stale(tmp);

    snprintf(base, sizeof(base), "%s/" PREFIX "%ld.XXXXXX", tmp,
             (long) getpid());
    check(mkdtemp(base) != NULL);
    atexit(cleanup);

    snprintf(path, sizeof(path), "%s/outside", base);
    check(mkdir(path, 0755) == 0);
    put(path, "canary.html", CANARY);
    put(path, "c.html", CANARY);
    put(path, "d.html", CANARY);
    put(path, "canary.json",
        "{\"segments\":[{\"name\":\"canary\",\"when\":{\"arg.c\":\"1\"}}],"
        "\"experiences\":{\"canary\":{\"blocks\":{\"c\":\"" CANARY "\"}}}}");

    snprintf(rdir, sizeof(rdir), "%s/rules", base);
    snprintf(path, sizeof(path), "%s/current", base);
    check(symlink("rules", path) == 0);
}


/* R with in/ only */
static void
reset(void)
{
    char  path[PATH_MAX];

    rm_tree(rdir);
    check(mkdir(rdir, 0755) == 0);
    check(realpath(rdir, real_rdir) != NULL);

    snprintf(path, sizeof(path), "%s/in", rdir);
    check(mkdir(path, 0755) == 0);
    put(path, "inside.html", "<p>inside</p>");
    put(path, "c.html", "<p>in c</p>");
    put(path, "d.html", "<p>in d</p>");
    put(path, "inside.json", Z_JSON);
}


static void
make_blocks(unsigned kind)
{
    char  path[PATH_MAX], target[PATH_MAX];

    snprintf(path, sizeof(path), "%s/blocks", rdir);

    switch (kind % 8) {
    case 0:
        check(mkdir(path, 0755) == 0);
        return;
    case 1:
        return;
    case 2:
        snprintf(target, sizeof(target), "%s/outside", base);
        break;
    case 3:
        snprintf(target, sizeof(target), "../outside");
        break;
    case 4:
        snprintf(target, sizeof(target), "in");
        break;
    case 5:
        check(mkfifo(path, 0644) == 0);
        return;
    case 6:
        put(rdir, "blocks", "<p>a file</p>");
        return;
    default:
        snprintf(target, sizeof(target), "%s/in", real_rdir);
        break;
    }

    check(symlink(target, path) == 0);
}


static void
make_slot(unsigned i, unsigned kind)
{
    int          json;
    char         path[PATH_MAX], target[PATH_MAX], parent[PATH_MAX];
    const char  *up, *name, *slash;
    struct stat  st;

    name = slots[i];
    json = (i == NSLOTS - 1);
    slash = strchr(name, '/');
    up = slash ? "../" : "";

    /* never create anything through a symlink: only in real dirs */
    if (slash) {
        snprintf(parent, sizeof(parent), "%s/%.*s", rdir,
                 (int) (slash - name), name);

        if (lstat(parent, &st) == -1 || !S_ISDIR(st.st_mode)) {
            return;
        }
    }

    snprintf(path, sizeof(path), "%s/%s", rdir, name);

    switch (kind % 14) {
    case 0:
        return;
    case 1:
        put(rdir, name, json ? Z_JSON : "<p>a block</p>");
        return;
    case 2:
        snprintf(target, sizeof(target), "%sin/inside.%s", up,
                 json ? "json" : "html");
        break;
    case 3:
        snprintf(target, sizeof(target), "%s/in/inside.%s", real_rdir,
                 json ? "json" : "html");
        break;
    case 4:
        snprintf(target, sizeof(target), "%s/outside/canary.%s", base,
                 json ? "json" : "html");
        break;
    case 5:
        snprintf(target, sizeof(target), "%s../outside/canary.%s", up,
                 json ? "json" : "html");
        break;
    case 6:
        check(mkfifo(path, 0644) == 0);
        return;
    case 7:
        check(mkdir(path, 0755) == 0);
        return;
    case 8:
        snprintf(target, sizeof(target), "/dev/null");
        break;
    case 9:
        snprintf(target, sizeof(target), "%snowhere", up);
        break;
    case 10:
        snprintf(target, sizeof(target), "%s", strrchr(path, '/') + 1);
        break;
    case 11:
        /* through another slot, whatever that is */
        snprintf(target, sizeof(target), "%s%s", up,
                 json ? "in/inside.json" : (i == 0 ? "b.html" : "a.html"));
        break;
    case 12:
        snprintf(target, sizeof(target), "%s/current/in/inside.%s", base,
                 json ? "json" : "html");
        break;
    default:
        snprintf(target, sizeof(target), "%sin/../../outside/canary.%s", up,
                 json ? "json" : "html");
        break;
    }

    check(symlink(target, path) == 0);
}


/* 1 when the loader may read R/name: a regular file inside R */
static int
readable(const char *name)
{
    char         path[PATH_MAX], real[PATH_MAX];
    size_t       n;
    struct stat  st;

    if (strstr(name, "..")) {
        return 0;
    }

    snprintf(path, sizeof(path), "%s/%s", rdir, name);

    if (realpath(path, real) == NULL || stat(real, &st) == -1
        || !S_ISREG(st.st_mode))
    {
        return 0;
    }

    n = strlen(real_rdir);

    return strncmp(real, real_rdir, n) == 0 && real[n] == '/';
}


static void
write_rules(unsigned mask)
{
    size_t  i;
    char    text[2048];
    int     n;

    n = snprintf(text, sizeof(text), "{\"experiences\":{\"default\":"
                 "{\"blocks\":{\"inline\":\"<p>inline</p>\"");

    for (i = 0; i < NREFS; i++) {
        if (mask & (1u << i)) {
            n += snprintf(text + n, sizeof(text) - n,
                          ",\"b%zu\":{\"file\":\"%s\"}", i, refs[i]);
        }
    }

    snprintf(text + n, sizeof(text) - n, "}}}}");
    put(rdir, "rules.json", text);
}


static int
no_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    return PERSONA_ATTR_NOT_FOUND;
}


static void
check_loaded(const persona_rules_t *rs)
{
    char                        real[PATH_MAX], buf[4096];
    size_t                      i, k, n, len;
    const persona_experience_t  *e;

    len = strlen(real_rdir);

    for (i = 0; i < rs->nfiles; i++) {
        check(realpath(rs->files[i], real) != NULL);
        check(strncmp(real, real_rdir, len) == 0 && real[len] == '/');
    }

    for (i = 0; i < rs->nexperiences; i++) {
        e = &rs->experiences[i];

        for (k = 0; k < e->nblocks; k++) {
            n = persona_template_render(e->blocks[k].tpl, PERSONA_ESCAPE_HTML,
                                        no_lookup, NULL, buf,
                                        sizeof(buf) - 1);
            buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
            check(strstr(buf, CANARY) == NULL);
        }
    }
}


/* the lowest free descriptor: the same before and after a load */
static int
free_fd(void)
{
    int  fd;

    fd = open("/dev/null", O_RDONLY);
    check(fd != -1);
    close(fd);

    return fd;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc, ok, fd;
    char              path[PATH_MAX];
    size_t            i;
    unsigned          mode, mask;
    persona_rules_t  *rs;
    persona_error_t   err;
    struct stat       st;

    if (base[0] == '\0') {
        setup();
    }

    mode = size > 0 ? data[0] : 0;
    mask = size > 7 ? data[7] : 1;
    mask |= size > 8 ? (unsigned) data[8] << 8 : 0;

    reset();
    make_blocks(size > 1 ? data[1] : 0);

    for (i = 0; i < NSLOTS; i++) {
        make_slot(i, size > 2 + i ? data[2 + i] : 1);
    }

    write_rules(mask);

    ok = 1;

    for (i = 0; i < NREFS; i++) {
        if (mask & (1u << i)) {
            ok = ok && readable(refs[i]);
        }
    }

    if (mode & 1) {
        /* every *.json of R: rules.json, and z.json when it is there */
        snprintf(path, sizeof(path), "%s/z.json", rdir);

        if (lstat(path, &st) == 0) {
            ok = ok && readable("z.json");
        }
    }

    snprintf(path, sizeof(path), "%s/%s%s", base,
             (mode & 2) ? "current" : "rules",
             (mode & 1) ? "" : "/rules.json");

    fd = free_fd();
    memset(&err, 0, sizeof(err));

    rc = persona_rules_load(&rs, path, NULL, &err);

    check(free_fd() == fd);

    if (rc != PERSONA_OK) {
        check(err.msg[0] != '\0');

        if (ok) {
            fprintf(stderr, "fuzz: refused: %s\n", err.msg);
            check(0);
        }

        return 0;
    }

    if (!ok) {
        fprintf(stderr, "fuzz: loaded what it must refuse\n");
        check(0);
    }

    check_loaded(rs);
    persona_rules_free(rs);

    return 0;
}
