/* Allocation wrappers: failure to allocate is not recoverable in Floe, so
 * these abort with a message instead of returning NULL. */
#ifndef FLOE_XMALLOC_H
#define FLOE_XMALLOC_H

#include <stddef.h>
#include <stdarg.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a newly allocated string the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Frees *p and sets it to NULL; accepts NULL. */
#define xfree_ptr(p)                                                                               \
	do {                                                                                       \
		free(*(p));                                                                        \
		*(p) = NULL;                                                                       \
	} while (0)

#endif
