/* A minimal TAP producer for unit tests: ok()/is_int()/is_str(), then
 * done_testing() prints the plan and returns the exit status. */
#ifndef FLOE_TAP_H
#define FLOE_TAP_H

#include <stdio.h>
#include <stdarg.h>
#include <string.h>

static int tap_count, tap_failed;

#define ok(cond, ...)                                                                              \
	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline int __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

#define is_int(got, want, ...)                                                                     \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (!ok(g_ == w_, __VA_ARGS__))                                                    \
			printf("#   got %lld, want %lld\n", g_, w_);                                   \
	} while (0)

#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		int same_ = (g_ == NULL && w_ == NULL) ||                                          \
			    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);                     \
		if (!ok(same_, __VA_ARGS__))                                                       \
			printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)",                  \
			       w_ ? w_ : "(null)");                                                \
	} while (0)

static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif
