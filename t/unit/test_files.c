/*
 * The files the rules loader opens (SPEC "Files"): block files and the
 * *.json of a rules directory resolve to regular files inside the
 * directory of the rules file, or the rules directory; symlinks that
 * escape, FIFOs, devices and directories are load-time errors, opening
 * never blocks, and a symlinked release folder works.  Each test builds
 * its tree in a fresh temporary directory.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persona_rules.h"


static char  tmp[256];
static char  cwd0[4096];


static void
write_file(const char *name, const char *text)
{
    char   path[512];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}


static void
make_dir(const char *name)
{
    char  path[512];

    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    assert_int_equal(mkdir(path, 0755), 0);
}


static void
make_link(const char *target, const char *name)
{
    char  path[512];

    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    assert_int_equal(symlink(target, path), 0);
}


static void
make_fifo(const char *name)
{
    char  path[512];

    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    assert_int_equal(mkfifo(path, 0644), 0);
}


/* loads tmp/NAME; returns the rc, the message (without tmp/) in msg */
static int
load(const char *name, char *msg, size_t size)
{
    int               rc;
    char              path[512];
    const char       *p;
    persona_rules_t  *rs;
    persona_error_t   err;

    snprintf(path, sizeof(path), "%s/%s", tmp, name);

    /* a blocking open would hang: fail the test instead */
    alarm(10);
    rc = persona_rules_load(&rs, path, NULL, &err);
    alarm(0);

    persona_rules_free(rs);

    if (rc == PERSONA_OK) {
        msg[0] = '\0';
        return rc;
    }

    /* drop every occurrence of the temporary directory */
    msg[0] = '\0';

    for (p = err.msg; *p; ) {
        if (strncmp(p, tmp, strlen(tmp)) == 0) {
            p += strlen(tmp);
            strncat(msg, "T", size - strlen(msg) - 1);
            continue;
        }

        strncat(msg, p, 1);
        p++;
    }

    return rc;
}


static int
setup(void **state)
{
    char  *real;

    snprintf(tmp, sizeof(tmp), "%s/persona-files-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");

    if (mkdtemp(tmp) == NULL) {
        return -1;
    }

    /* messages show resolved paths */
    real = realpath(tmp, NULL);
    if (real == NULL) {
        return -1;
    }

    snprintf(tmp, sizeof(tmp), "%s", real);
    free(real);

    return 0;
}


static int
teardown(void **state)
{
    char  cmd[512];

    if (chdir(cwd0) != 0) {
        return -1;
    }

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);

    return system(cmd) == 0 ? 0 : -1;
}


static const char  rules_with_block[] =
    "{ \"experiences\": { \"default\": {\n"
    "  \"blocks\": { \"offer\": { \"file\": \"blocks/offer.html\" } } } } }\n";


static void
test_block_symlink_escapes(void **state)
{
    char  msg[1024];

    make_dir("secret");
    write_file("secret/shadow", "root:x:secret\n");
    make_dir("rules");
    make_dir("rules/blocks");
    write_file("rules/shop.json", rules_with_block);
    make_link("../../secret/shadow", "rules/blocks/offer.html");

    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)),
                     PERSONA_ERROR);
    assert_string_equal(msg, "T/rules/shop.json:2:34: cannot read block "
                        "file \"T/rules/blocks/offer.html\": resolves to "
                        "\"T/secret/shadow\", outside the rules directory "
                        "\"T/rules\"");

    /* an absolute symlink to a system file */
    assert_int_equal(chdir(tmp), 0);
    assert_int_equal(unlink("rules/blocks/offer.html"), 0);
    make_link("/etc/passwd", "rules/blocks/offer.html");

    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)),
                     PERSONA_ERROR);
    assert_non_null(strstr(msg, "resolves to \"/etc/passwd\", outside"));
}


static void
test_block_dir_symlink_escapes(void **state)
{
    char  msg[1024];

    make_dir("secret");
    write_file("secret/offer.html", "secret\n");
    make_dir("rules");
    write_file("rules/shop.json", rules_with_block);
    make_link("../secret", "rules/blocks");

    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)),
                     PERSONA_ERROR);
    assert_non_null(strstr(msg, "resolves to \"T/secret/offer.html\", "
                           "outside the rules directory \"T/rules\""));
}


static void
test_block_not_regular(void **state)
{
    char  msg[1024];

    make_dir("rules");
    make_dir("rules/blocks");
    write_file("rules/shop.json", rules_with_block);
    make_fifo("rules/blocks/offer.html");

    /* a FIFO nobody writes to: an error, not a hang */
    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)),
                     PERSONA_ERROR);
    assert_string_equal(msg, "T/rules/shop.json:2:34: cannot read block "
                        "file \"T/rules/blocks/offer.html\": not a regular "
                        "file (a FIFO)");

    assert_int_equal(chdir(tmp), 0);
    assert_int_equal(unlink("rules/blocks/offer.html"), 0);
    make_link("/dev/zero", "rules/blocks/offer.html");

    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)),
                     PERSONA_ERROR);
    assert_non_null(strstr(msg, "not a regular file (a device)"));

    assert_int_equal(unlink("rules/blocks/offer.html"), 0);
    make_dir("rules/blocks/offer.html");

    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)),
                     PERSONA_ERROR);
    assert_non_null(strstr(msg, "not a regular file (a directory)"));
}


static void
test_dir_entries(void **state)
{
    char  msg[1024];

    make_dir("secret");
    write_file("secret/x.json", "{ \"default\": \"everyone\" }\n");
    make_dir("rules");
    write_file("rules/10-a.json", "{ \"default\": \"everyone\" }\n");

    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_OK);

    /* an escaping symlink among the *.json */
    make_link("../secret/x.json", "rules/20-b.json");
    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_ERROR);
    assert_string_equal(msg, "T/rules/20-b.json: cannot read rules: "
                        "resolves to \"T/secret/x.json\", outside the rules "
                        "directory \"T/rules\"");

    /* a FIFO among the *.json */
    assert_int_equal(chdir(tmp), 0);
    assert_int_equal(unlink("rules/20-b.json"), 0);
    make_fifo("rules/20-b.json");
    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_ERROR);
    assert_string_equal(msg, "T/rules/20-b.json: cannot read rules: "
                        "not a regular file (a FIFO)");

    /* a subdirectory named *.json is an error, other ones are skipped */
    assert_int_equal(unlink("rules/20-b.json"), 0);
    make_dir("rules/schema");
    write_file("rules/schema/schema.json", "{ \"not\": \"rules\" }\n");
    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_OK);

    make_dir("rules/20-b.json");
    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_ERROR);
    assert_string_equal(msg, "T/rules/20-b.json: cannot read rules: "
                        "not a regular file (a directory)");

    /* a symlink that stays inside the directory is fine */
    assert_int_equal(rmdir("rules/20-b.json"), 0);
    write_file("rules/schema/b.txt", "{ \"segments\": [] }\n");
    make_link("schema/b.txt", "rules/20-b.json");
    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_OK);
}


static void
test_release_folder(void **state)
{
    char  msg[1024];

    make_dir("releases");
    make_dir("releases/2026-12-01");
    make_dir("releases/2026-12-01/blocks");
    write_file("releases/2026-12-01/shop.json", rules_with_block);
    write_file("releases/2026-12-01/blocks/hero.html", "<h1>Hi</h1>\n");
    /* a symlink that stays inside the release */
    make_link("hero.html", "releases/2026-12-01/blocks/offer.html");
    make_link("releases/2026-12-01", "rules");

    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)), PERSONA_OK);
    assert_int_equal(load("rules", msg, sizeof(msg)), PERSONA_OK);
    assert_int_equal(load("rules/", msg, sizeof(msg)), PERSONA_OK);

    /* ".." through the symlinked folder stays refused */
    write_file("releases/2026-12-01/up.json",
               "{ \"experiences\": { \"default\": {\n"
               "  \"blocks\": { \"offer\": { \"file\": \"../x.html\" } } }"
               " } }\n");
    assert_int_equal(load("rules/up.json", msg, sizeof(msg)), PERSONA_ERROR);
}


static void
test_relative_paths(void **state)
{
    char   msg[1024], *cwd;

    make_dir("rules");
    make_dir("rules/blocks");
    write_file("rules/shop.json", rules_with_block);
    write_file("rules/blocks/offer.html", "<p>offer</p>\n");

    cwd = getcwd(NULL, 0);
    assert_non_null(cwd);

    /* a rules file named relative to the current directory */
    assert_int_equal(chdir(tmp), 0);
    assert_int_equal(load("rules/shop.json", msg, sizeof(msg)), PERSONA_OK);

    assert_int_equal(chdir("rules"), 0);
    {
        persona_rules_t  *rs;
        persona_error_t   err;

        assert_int_equal(persona_rules_load(&rs, "shop.json", NULL, &err),
                         PERSONA_OK);
        persona_rules_free(rs);

        assert_int_equal(persona_rules_load(&rs, ".", NULL, &err),
                         PERSONA_OK);
        persona_rules_free(rs);
    }

    assert_int_equal(chdir(cwd), 0);
    free(cwd);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_block_symlink_escapes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_block_dir_symlink_escapes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_not_regular, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dir_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_folder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup,
                                        teardown),
    };

    if (getcwd(cwd0, sizeof(cwd0)) == NULL) {
        return 1;
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
