/* test_jobfile.c - INI/job parsing: a valid job, and every error names the
 * file, the line and the key. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/jobfile.h"

static const char *good_job = "; a comment\n"
                              "[job]\n"
                              "name = demo\n"
                              "data = fashion-mnist:test\n"
                              "n = 40\n"
                              "seed = 7\n"
                              "shard = 16\n"
                              "\n"
                              "[model cnn]\n"
                              "path = models/cnn.onnx\n"
                              "board = jetson-nano\n"
                              "[model q2]\n"
                              "path = /abs/q2.rove\n"
                              "[profile naive]\n"
                              "preset = naive\n"
                              "[profile precise]\n"
                              "preset = precise\n"
                              "restarts = 3\n"
                              "norm = linf\n"
                              "[sweep]\n"
                              "eps = 0.05, 0.1,0.2\n"
                              "profiles = precise, naive\n"
                              "[energy]\n"
                              "port = 9000\n";

Test(jobfile, parses_a_valid_job) {
  rove_job j;
  cr_assert_eq(rove_job_load_string(&j, good_job, "demo.job", "jobs"), 0, "%s",
               rove_error_message());
  cr_assert_str_eq(j.name, "demo");
  cr_assert_str_eq(j.data, "fashion-mnist:test");
  cr_assert_eq(j.n, 40);
  cr_assert_eq(j.seed, 7);
  cr_assert_eq(j.shard, 16);
  cr_assert_eq(j.skip, 1);
  cr_assert_null(j.output);
  cr_assert_eq(j.n_models, 2);
  cr_assert_str_eq(j.models[0].path, "jobs/models/cnn.onnx");
  cr_assert_str_eq(j.models[0].board, "jetson-nano");
  cr_assert_str_eq(j.models[1].path, "/abs/q2.rove");
  cr_assert_null(j.models[1].board);
  cr_assert_eq(j.n_profiles, 2);
  cr_assert_str_eq(j.profiles[0].name, "precise", "[sweep] order wins");
  cr_assert_str_eq(j.profiles[1].preset, "naive");
  cr_assert_eq(j.profiles[0].norm_linf, 1);
  cr_assert_eq(j.n_eps, 3);
  cr_assert_float_eq(j.eps[2], 0.2, 1e-15);
  cr_assert_not_null(j.energy);
  cr_assert_eq(j.energy_port, 9000);
  cr_assert_str_eq(j.energy_listen, "0.0.0.0");
  const rove_ini_key *k = rove_ini_key_find(
      rove_ini_find(&j.ini, "profile", "precise"), "restarts");
  cr_assert_eq(k->line, 18);
  rove_job_deinit(&j);
}

/* Replaces the first occurrence of `from` in good_job with `to` and checks
 * the load fails with `code` and a message containing `want`. */
static void expect_error(const char *from, const char *to, int code,
                         const char *want) {
  char buf[2048];
  const char *at = strstr(good_job, from);
  cr_assert_not_null(at, "fixture lacks '%s'", from);
  size_t pre = (size_t)(at - good_job);
  snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, good_job, to,
           at + strlen(from));
  rove_job j;
  int rc = rove_job_load_string(&j, buf, "demo.job", ".");
  cr_assert_eq(rc, code, "'%s' -> '%s': got %d (%s)", from, to, rc,
               rove_error_message());
  cr_assert(strstr(rove_error_message(), want), "message '%s' lacks '%s'",
            rove_error_message(), want);
}

Test(jobfile, errors_name_file_line_and_key) {
  expect_error("seed = 7", "seed = seven", ROVE_EINVAL,
               "demo.job:6: [job] key 'seed': expected an integer");
  expect_error("shard = 16", "shard = 0", ROVE_ERANGE,
               "demo.job:7: [job] key 'shard': 0 is out of range");
  expect_error("n = 40", "nn = 40", ROVE_EINVAL,
               "demo.job:5: [job] key 'nn': unknown key, expected one of");
  expect_error("eps = 0.05, 0.1,0.2", "eps = 0.1, 0.05", ROVE_EINVAL,
               "demo.job:21: [sweep] key 'eps': values must be strictly");
  expect_error("eps = 0.05, 0.1,0.2", "eps = 0.1, abc", ROVE_EINVAL,
               "item 2: expected a finite number, got 'abc'");
  expect_error("profiles = precise, naive", "profiles = precise, fancy",
               ROVE_EINVAL, "demo.job:22: [sweep] key 'profiles': 'fancy'");
  expect_error("norm = linf", "norm = l7", ROVE_EINVAL,
               "demo.job:19: [profile precise] key 'norm': expected linf");
  expect_error("[model q2]", "[model cnn]", ROVE_EFORMAT,
               "demo.job:12: section [model cnn] repeated (first at line 9)");
  expect_error("board = jetson-nano", "path = again", ROVE_EFORMAT,
               "demo.job:11: key 'path' repeated");
  expect_error("; a comment\n", "orphan = 1\n", ROVE_EFORMAT,
               "demo.job:1: key 'orphan' before any [section]");
  expect_error("name = demo\n", "name demo\n", ROVE_EFORMAT,
               "demo.job:3: syntax error");
  expect_error("[model q2]", "[model q 2]", ROVE_EINVAL,
               "demo.job:12: [model q 2]: name 'q 2' may only contain");
  expect_error("path = /abs/q2.rove\n", "", ROVE_EINVAL,
               "demo.job:12: [model q2]: missing required key 'path'");
  expect_error("[energy]", "[energi]", ROVE_EINVAL,
               "demo.job:23: [energi]: unknown section type 'energi'");
  expect_error("port = 9000", "port = 70000", ROVE_ERANGE,
               "[energy] key 'port'");
  expect_error("[sweep]\n", "[sweeps]\n", ROVE_EINVAL, "unknown section type");
}

Test(jobfile, missing_sections_and_files) {
  rove_job j;
  cr_assert_eq(rove_job_load_string(&j, "[sweep]\neps = 0.1\n", "x.job", "."),
               ROVE_EINVAL);
  cr_assert(strstr(rove_error_message(), "x.job: missing the [job] section"));
  cr_assert_eq(rove_job_load(&j, "/nonexistent/dir/x.job"), ROVE_ENOENT);
  cr_assert(strstr(rove_error_message(), "/nonexistent/dir/x.job"));
}

Test(jobfile, long_lines_do_not_shift_line_numbers) {
  char buf[1024];
  char pad[400];
  memset(pad, 'a', sizeof pad - 1);
  pad[sizeof pad - 1] = '\0';
  snprintf(buf, sizeof buf, "[job]\nname = %s\n", pad);
  rove_ini ini;
  cr_assert_eq(rove_ini_load_string(&ini, buf, "long.ini"), ROVE_EFORMAT);
  cr_assert(strstr(rove_error_message(), "long.ini:2: line longer"), "%s",
            rove_error_message());
}

Test(jobfile, generic_ini_sections_and_empty_sections) {
  rove_ini ini;
  cr_assert_eq(rove_ini_load_string(&ini,
                                    "[zoo]\n\n[variant a]\n[variant b]\n"
                                    "width = 8\n",
                                    "zoo.ini"),
               0);
  cr_assert_eq(ini.n_secs, 3);
  const rove_ini_section *a = rove_ini_find(&ini, "variant", "a");
  cr_assert_not_null(a);
  cr_assert_eq(a->line, 3);
  cr_assert_eq(a->n_keys, 0);
  const rove_ini_section *b = rove_ini_find(&ini, "variant", NULL);
  cr_assert_eq(b, a, "NULL name finds the first of a type");
  long long w;
  cr_assert_eq(rove_ini_get_int(&ini, rove_ini_find(&ini, "variant", "b"),
                                "width", 1, 0, 1, 64, &w),
               0);
  cr_assert_eq(w, 8);
  cr_assert_eq(rove_ini_get_int(&ini, a, "width", 1, 0, 1, 64, &w),
               ROVE_EINVAL);
  cr_assert(strstr(rove_error_message(),
                   "zoo.ini:3: [variant a]: missing required key 'width'"));
  rove_ini_deinit(&ini);
}

/* A NUL byte would end the text early and hide the rest of the file: it
 * is an error naming the file, line and offset. */
Test(ini, nul_byte_is_an_error_naming_its_line) {
  char path[] = "/tmp/rove-ini-nul-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  static const char text[] = "[job]\nname = a\nseed = 1\0\nn = 2\n";
  cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  rove_ini ini;
  cr_assert_eq(rove_ini_load(&ini, path), ROVE_EFORMAT);
  cr_assert(strstr(rove_error_message(), ":3: a NUL byte at offset 23") != NULL,
            "%s", rove_error_message());
  unlink(path);
}

Test(jobfile, model_normalization_keys) {
  char buf[2048];
  const char *at = strstr(good_job, "board = jetson-nano\n");
  snprintf(buf, sizeof buf, "%.*smean = 0.4914, 0.4822,0.4465\nstd = 0.25\n%s",
           (int)(at - good_job), good_job, at);
  rove_job j;
  cr_assert_eq(rove_job_load_string(&j, buf, "demo.job", "."), 0, "%s",
               rove_error_message());
  cr_assert_eq(j.models[0].norm.n_mean, 3);
  cr_assert_eq(j.models[0].norm.n_std, 1);
  cr_assert(j.models[0].norm.mean[1] == 0.4822f);
  cr_assert(j.models[0].norm.std[0] == 0.25f);
  cr_assert_eq(j.models[1].norm.n_mean, 0);
  rove_job_deinit(&j);
  snprintf(buf, sizeof buf, "%.*sstd = 0.2 0.3\n%s", (int)(at - good_job),
           good_job, at);
  cr_assert_lt(rove_job_load_string(&j, buf, "demo.job", "."), 0);
  const char *m = rove_error_message();
  cr_assert(strstr(m, "demo.job:11") && strstr(m, "std"), "%s", m);
}
