/* DNS for outgoing mail without blocking the event loop: a small pool of
 * resolver threads per worker runs res_nquery (MX records, RFC 5321 5.1:
 * preference order, the domain itself when it has no MX, null MX of RFC
 * 7505 refused) and getaddrinfo (A/AAAA); answers come back to the loop
 * through a pipe. The threads touch no libevent or database object. */
#ifndef FLOE_MX_H
#define FLOE_MX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct mx_resolver;
struct mx_request;

#define MX_MAX_HOSTS 10 /* MX hosts tried per domain */
#define MX_MAX_ADDRS 4  /* addresses tried per host */
#define MX_NAME_MAX  256

enum mx_status {
	MX_OK,
	MX_TEMPFAIL, /* DNS trouble, or no host has an address: try later */
	MX_PERMFAIL, /* the domain does not exist or accepts no mail */
};

struct mx_host {
	char name[MX_NAME_MAX];
	unsigned preference;
	struct sockaddr_storage addrs[MX_MAX_ADDRS];
	socklen_t addrlens[MX_MAX_ADDRS];
	size_t naddrs;
};

/* hosts: in the order to try them (by preference; equal preferences in
 * random order), each with at least one address when status is MX_OK.
 * error: a one-line reason when status is not MX_OK. Valid during the
 * callback only. */
struct mx_answer {
	enum mx_status status;
	const char *error;
	const struct mx_host *hosts;
	size_t nhosts;
};
typedef void mx_cb(const struct mx_answer *answer, void *ctx);

/* Starts threads (at least one). Aborts (fatal) when it cannot: an
 * environment failure at worker start-up. */
struct mx_resolver *mx_resolver_create(struct event_base *base, unsigned threads);
/* Requests still waiting are dropped without callback (their owners must
 * have abandoned them first); waits for lookups in progress to finish.
 * Accepts NULL; sets *r to NULL. */
void mx_resolver_destroy(struct mx_resolver **r);

/* The mail exchangers of domain with their addresses on port. cb is called
 * exactly once from the event loop, never from inside this call, unless
 * the request is abandoned. */
struct mx_request *mx_lookup(struct mx_resolver *r, const char *domain, uint16_t port, mx_cb *cb,
                             void *ctx);
/* The addresses of one host (a relay: a name or a numeric address) on
 * port, as a single-host answer. Same calling rules as mx_lookup. */
struct mx_request *mx_lookup_host(struct mx_resolver *r, const char *host, uint16_t port, mx_cb *cb,
                                  void *ctx);
/* The callback will not be called. Sets *req to NULL; accepts NULL. */
void mx_request_abandon(struct mx_request **req);

/* ---------------------------------------------------------------------
 * Pure helpers (for the threads and for tests)
 */

struct mx_record {
	unsigned preference;
	char name[MX_NAME_MAX]; /* "" for the root (null MX) */
};

/* Parses the MX records of a DNS answer packet into records (at most max;
 * others are ignored). Returns the count, or -1 with *error_r when the
 * packet is malformed. */
int mx_parse_answer(const unsigned char *packet, int len, struct mx_record *records, size_t max,
                    const char **error_r);
/* Sorts records by preference (stable). */
void mx_sort(struct mx_record *records, size_t count);

/* Splits "host:port", "[v6]:port" or "host" (port default_port) into
 * host (NUL-terminated, at most size bytes) and port. Returns 0 or -1. */
int mx_split_hostport(const char *text, char *host, size_t size, uint16_t default_port,
                      uint16_t *port_r);

#endif
