/* The configuration file parser and validator. One table declares every key
 * with its type, default and place in struct floe_config; parsing fills the
 * struct from the defaults and the file, and every problem is reported as
 * "file:line: reason" so that an administrator can fix it in one pass. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "xmalloc.h"

#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define CONFIG_MAX_LINE	     4096

enum config_type {
	CT_STRING,
	CT_UINT,
	CT_WORKERS,
	CT_BOOL,
	CT_SIZE,
	CT_DURATION,
	CT_LISTEN,
	CT_LOGLEVEL,
	CT_CHOICE, /* a string that must be one of the '|'-separated choices */
	CT_URL,
	CT_DBURL,
	CT_MODE, /* file permissions, octal: 0660 */
};

struct config_key {
	const char *section;
	const char *key;
	enum config_type type;
	size_t offset;
	const char *def;
	unsigned min, max; /* for CT_UINT */
};

#define OFF(field) offsetof(struct floe_config, field)

static const struct config_key config_keys[] = {
	{"server", "state_dir", CT_STRING, OFF(server.state_dir), "/var/lib/floe", 0, 0},
	{"server", "workers", CT_WORKERS, OFF(server.workers), "auto", 1, 256},
	{"server", "user", CT_STRING, OFF(server.user), "floe", 0, 0},
	{"server", "shutdown_timeout", CT_DURATION, OFF(server.shutdown_timeout_ms), "10s", 0, 0},
	{"server", "restart_backoff_max", CT_DURATION, OFF(server.restart_backoff_max_ms), "30s", 0,
	 0},
	{"log", "level", CT_LOGLEVEL, OFF(log.level), "info", 0, 0},
	{"log", "file", CT_STRING, OFF(log.file), "", 0, 0},
	{"db", "url", CT_DBURL, OFF(db.url), "local", 0, 0},
	{"db", "pool_size", CT_UINT, OFF(db.pool_size), "4", 1, 64},
	{"db", "query_timeout", CT_DURATION, OFF(db.query_timeout_ms), "30s", 0, 0},
	{"db", "connect_timeout", CT_DURATION, OFF(db.connect_timeout_ms), "5s", 0, 0},
	{"db", "pg_bindir", CT_STRING, OFF(db.pg_bindir), "", 0, 0},
	{"tls", "cert", CT_STRING, OFF(tls.cert), "", 0, 0},
	{"tls", "key", CT_STRING, OFF(tls.key), "", 0, 0},
	{"tls", "ciphers", CT_STRING, OFF(tls.ciphers), "HIGH:!aNULL:!MD5:!RC4:!3DES", 0, 0},
	{"imap", "listen", CT_LISTEN, OFF(imap.listen), "0.0.0.0:143", 0, 0},
	{"imap", "listen_tls", CT_LISTEN, OFF(imap.listen_tls), "0.0.0.0:993", 0, 0},
	{"imap", "allow_plaintext_auth", CT_BOOL, OFF(imap.allow_plaintext_auth), "no", 0, 0},
	{"imap", "max_line_length", CT_SIZE, OFF(imap.max_line_length), "64k", 0, 0},
	{"imap", "max_literal_size", CT_SIZE, OFF(imap.max_literal_size), "64M", 0, 0},
	{"imap", "commands_per_second", CT_UINT, OFF(imap.commands_per_second), "500", 0, 1000000},
	{"imap", "max_connections_per_account", CT_UINT, OFF(imap.max_connections_per_account), "50",
	 1, 100000},
	{"imap", "max_connections_per_ip", CT_UINT, OFF(imap.max_connections_per_ip), "500", 1,
	 1000000},
	{"imap", "idle_keepalive", CT_DURATION, OFF(imap.idle_keepalive_ms), "2m", 0, 0},
	{"imap", "autologout", CT_DURATION, OFF(imap.autologout_ms), "30m", 0, 0},
	{"imap", "cache_size", CT_SIZE, OFF(imap.cache_size), "64M", 0, 0},
	/* [imap] keys */
	{"auth", "max_failures", CT_UINT, OFF(auth.max_failures), "10", 1, 100000},
	{"auth", "failure_window", CT_DURATION, OFF(auth.failure_window_ms), "5m", 0, 0},
	{"auth", "lockout", CT_DURATION, OFF(auth.lockout_ms), "5m", 0, 0},
	{"auth", "failure_delay", CT_DURATION, OFF(auth.failure_delay_ms), "2s", 0, 0},
	{"auth", "threads", CT_UINT, OFF(auth.threads), "2", 1, 64},
	{"auth", "cache_ttl", CT_DURATION, OFF(auth.cache_ttl_ms), "5m", 0, 0},
	{"http", "listen", CT_LISTEN, OFF(http.listen), "0.0.0.0:80", 0, 0},
	{"http", "listen_tls", CT_LISTEN, OFF(http.listen_tls), "0.0.0.0:443", 0, 0},
	{"http", "public_url", CT_URL, OFF(http.public_url), "", 0, 0},
	{"http", "max_body_size", CT_SIZE, OFF(http.max_body_size), "32M", 0, 0},
	{"http", "max_header_size", CT_SIZE, OFF(http.max_header_size), "16k", 0, 0},
	{"http", "header_timeout", CT_DURATION, OFF(http.header_timeout_ms), "30s", 0, 0},
	{"http", "body_timeout", CT_DURATION, OFF(http.body_timeout_ms), "60s", 0, 0},
	{"http", "keepalive_timeout", CT_DURATION, OFF(http.keepalive_timeout_ms), "75s", 0, 0},
	{"http", "write_timeout", CT_DURATION, OFF(http.write_timeout_ms), "60s", 0, 0},
	{"lmtp", "listen", CT_LISTEN, OFF(lmtp.listen), "127.0.0.1:24", 0, 0},
	{"smtp", "listen", CT_LISTEN, OFF(smtp.listen), "0.0.0.0:587", 0, 0},
	{"lmtp", "max_message_size", CT_SIZE, OFF(lmtp.max_message_size), "0", 0, 0},
	{"lmtp", "max_recipients", CT_UINT, OFF(lmtp.max_recipients), "1000", 1, 100000},
	{"lmtp", "max_line_length", CT_SIZE, OFF(lmtp.max_line_length), "64k", 0, 0},
	{"lmtp", "timeout", CT_DURATION, OFF(lmtp.timeout_ms), "5m", 0, 0},
	{"lmtp", "socket_mode", CT_MODE, OFF(lmtp.socket_mode), "0660", 0, 0},
	{"lmtp", "socket_group", CT_STRING, OFF(lmtp.socket_group), "", 0, 0},
	/* [lmtp] keys */
	{"smtp", "listen_tls", CT_LISTEN, OFF(smtp.listen_tls), "0.0.0.0:465", 0, 0},
	{"smtp", "max_message_size", CT_SIZE, OFF(smtp.max_message_size), "32M", 0, 0},
	{"smtp", "max_recipients", CT_UINT, OFF(smtp.max_recipients), "100", 1, 100000},
	{"smtp", "messages_per_hour", CT_UINT, OFF(smtp.messages_per_hour), "200", 0, 10000000},
	{"smtp", "timeout", CT_DURATION, OFF(smtp.timeout_ms), "5m", 0, 0},
	{"smtp", "max_connections_per_ip", CT_UINT, OFF(smtp.max_connections_per_ip), "100", 1,
	 1000000},
	/* [smtp] keys */
	{"queue", "relay", CT_STRING, OFF(queue.relay), "", 0, 0},
	{"queue", "relay_user", CT_STRING, OFF(queue.relay_user), "", 0, 0},
	{"queue", "relay_password", CT_STRING, OFF(queue.relay_password), "", 0, 0},
	{"queue", "relay_tls", CT_CHOICE, OFF(queue.relay_tls), "opportunistic", 0, 0},
	{"queue", "relay_tls_verify", CT_BOOL, OFF(queue.relay_tls_verify), "yes", 0, 0},
	{"queue", "hostname", CT_STRING, OFF(queue.hostname), "", 0, 0},
	{"queue", "max_age", CT_DURATION, OFF(queue.max_age_ms), "120h", 0, 0},
	{"queue", "retry_min", CT_DURATION, OFF(queue.retry_min_ms), "5m", 0, 0},
	{"queue", "retry_max", CT_DURATION, OFF(queue.retry_max_ms), "4h", 0, 0},
	{"queue", "connect_timeout", CT_DURATION, OFF(queue.connect_timeout_ms), "30s", 0, 0},
	{"queue", "command_timeout", CT_DURATION, OFF(queue.command_timeout_ms), "5m", 0, 0},
	{"queue", "data_block_timeout", CT_DURATION, OFF(queue.data_block_timeout_ms), "3m", 0, 0},
	{"queue", "data_end_timeout", CT_DURATION, OFF(queue.data_end_timeout_ms), "10m", 0, 0},
	{"queue", "max_parallel", CT_UINT, OFF(queue.max_parallel), "20", 1, 10000},
	{"queue", "poll_interval", CT_DURATION, OFF(queue.poll_interval_ms), "5s", 0, 0},
	{"queue", "lease", CT_DURATION, OFF(queue.lease_ms), "30m", 0, 0},
	{"queue", "keep_done", CT_DURATION, OFF(queue.keep_done_ms), "24h", 0, 0},
	{"queue", "resolver_threads", CT_UINT, OFF(queue.resolver_threads), "2", 1, 64},
	/* [queue] keys */
	{"delivery", "max_hops", CT_UINT, OFF(delivery.max_hops), "50", 1, 1000},
	/* [delivery] keys */
	{"pop3", "listen", CT_LISTEN, OFF(pop3.listen), "0.0.0.0:110", 0, 0},
	{"pop3", "listen_tls", CT_LISTEN, OFF(pop3.listen_tls), "0.0.0.0:995", 0, 0},
	{"pop3", "allow_plaintext_auth", CT_BOOL, OFF(pop3.allow_plaintext_auth), "no", 0, 0},
	{"pop3", "max_line_length", CT_UINT, OFF(pop3.max_line_length), "8192", 512, 1048576},
	{"pop3", "max_connections_per_account", CT_UINT, OFF(pop3.max_connections_per_account), "10",
	 1, 100000},
	{"pop3", "max_connections_per_ip", CT_UINT, OFF(pop3.max_connections_per_ip), "100", 1,
	 1000000},
	{"pop3", "autologout", CT_DURATION, OFF(pop3.autologout_ms), "10m", 0, 0},
	/* [pop3] keys */
	{"eas", "heartbeat_min", CT_DURATION, OFF(eas.heartbeat_min_ms), "60s", 0, 0},
	{"eas", "heartbeat_max", CT_DURATION, OFF(eas.heartbeat_max_ms), "30m", 0, 0},
	{"eas", "heartbeat_clamp", CT_BOOL, OFF(eas.heartbeat_clamp), "yes", 0, 0},
	{"eas", "ping_max_folders", CT_UINT, OFF(eas.ping_max_folders), "300", 1, 100000},
	{"eas", "provision_status", CT_CHOICE, OFF(eas.provision_status), "both", 0, 0},
	{"eas", "allow_non_provisionable", CT_BOOL, OFF(eas.allow_non_provisionable), "yes", 0, 0},
	{"eas", "policy_refresh_interval", CT_DURATION, OFF(eas.policy_refresh_interval_ms), "0",
	 0, 0},
	{"eas", "policy_password_required", CT_BOOL, OFF(eas.policy_password_required), "no", 0, 0},
	{"eas", "policy_alphanumeric_password", CT_BOOL, OFF(eas.policy_alphanumeric_password),
	 "no", 0, 0},
	{"eas", "policy_allow_simple_password", CT_BOOL, OFF(eas.policy_allow_simple_password),
	 "yes", 0, 0},
	{"eas", "policy_min_password_length", CT_UINT, OFF(eas.policy_min_password_length), "4", 1,
	 16},
	{"eas", "policy_max_inactivity", CT_DURATION, OFF(eas.policy_max_inactivity_ms), "0", 0, 0},
	{"eas", "policy_max_password_failures", CT_UINT, OFF(eas.policy_max_password_failures), "0",
	 0, 16},
	{"eas", "policy_password_expiration_days", CT_UINT,
	 OFF(eas.policy_password_expiration_days), "0", 0, 730},
	{"eas", "policy_password_history", CT_UINT, OFF(eas.policy_password_history), "0", 0, 50},
	{"eas", "policy_require_encryption", CT_BOOL, OFF(eas.policy_require_encryption), "no", 0,
	 0},
	{"eas", "policy_allow_storage_card", CT_BOOL, OFF(eas.policy_allow_storage_card), "yes", 0,
	 0},
	{"eas", "policy_allow_camera", CT_BOOL, OFF(eas.policy_allow_camera), "yes", 0, 0},
	{"eas", "policy_allow_attachments", CT_BOOL, OFF(eas.policy_allow_attachments), "yes", 0, 0},
	{"eas", "policy_max_attachment_size", CT_SIZE, OFF(eas.policy_max_attachment_size), "0", 0,
	 0},
	{"eas", "policy_allow_html_email", CT_BOOL, OFF(eas.policy_allow_html_email), "yes", 0, 0},
	{"eas", "policy_max_email_age_filter", CT_UINT, OFF(eas.policy_max_email_age_filter), "0",
	 0, 5},
	{"eas", "policy_max_calendar_age_filter", CT_UINT, OFF(eas.policy_max_calendar_age_filter),
	 "0", 0, 7},
	{"eas", "log_bodies", CT_BOOL, OFF(eas.log_bodies), "no", 0, 0},
	/* [eas] keys */
	{"groupware", "trash_days", CT_UINT, OFF(groupware.trash_days), "30", 0, 36500},
	{"groupware", "trash_purge_interval", CT_DURATION, OFF(groupware.trash_purge_interval_ms), "1h",
	 0, 0},
	/* [groupware] keys */
	{"sharing", "notify", CT_BOOL, OFF(sharing.notify), "yes", 0, 0},
	{"sharing", "notify_poll", CT_DURATION, OFF(sharing.notify_poll_ms), "10s", 0, 0},
	{"sharing", "notify_max_age", CT_DURATION, OFF(sharing.notify_max_age_ms), "168h", 0, 0},
	/* [sharing] keys */
	{"debug", "test_endpoints", CT_BOOL, OFF(debug.test_endpoints), "no", 0, 0},
	{NULL, NULL, 0, 0, NULL, 0, 0},
};

/* The values a CT_CHOICE key accepts, '|'-separated. */
static const struct {
	const char *section, *key, *choices;
} config_choices[] = {
	{"queue", "relay_tls", "required|opportunistic|off|implicit"},
	{"eas", "provision_status", "449|status|both"},
};

static const char *config_key_choices(const struct config_key *k)
{
	for (size_t i = 0; i < sizeof(config_choices) / sizeof(config_choices[0]); i++) {
		if (strcmp(config_choices[i].section, k->section) == 0 &&
		    strcmp(config_choices[i].key, k->key) == 0)
			return config_choices[i].choices;
	}
	return "";
}

const struct config_key_doc *config_key_docs(void)
{
	static struct config_key_doc docs[sizeof(config_keys) / sizeof(config_keys[0])];

	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		docs[i].section = config_keys[i].section;
		docs[i].key = config_keys[i].key;
		docs[i].default_value = config_keys[i].def;
	}
	return docs;
}

static void __attribute__((format(printf, 4, 5)))
config_error(struct config_errors *errors, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	errors->lines = xreallocarray(errors->lines, errors->count + 1, sizeof(char *));
	if (line > 0)
		errors->lines[errors->count++] = xasprintf("%s:%u: %s", path, line, msg);
	else
		errors->lines[errors->count++] = xasprintf("%s: %s", path, msg);
	free(msg);
}

void config_errors_clear(struct config_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		free(errors->lines[i]);
	free(errors->lines);
	errors->lines = NULL;
	errors->count = 0;
}

int config_parse_size(const char *text, size_t *size_r)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (tolower((unsigned char)*end)) {
		case 'k':
			mult = 1024ULL;
			break;
		case 'm':
			mult = 1024ULL * 1024;
			break;
		case 'g':
			mult = 1024ULL * 1024 * 1024;
			break;
		case 'b':
			mult = 1;
			break;
		default:
			return -1;
		}
		end++;
		if (mult != 1 && (*end == 'b' || *end == 'B'))
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v > SIZE_MAX / mult)
		return -1;
	*size_r = (size_t)(v * mult);
	return 0;
}

int config_parse_duration_ms(const char *text, unsigned *ms_r)
{
	unsigned long long v, mult;
	char *end;

	if (!isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else
		return -1;
	if (v > UINT_MAX / mult)
		return -1;
	*ms_r = (unsigned)(v * mult);
	return 0;
}

int config_parse_listen(const char *text, struct sockaddr_storage *addr_r, socklen_t *len_r)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *res = NULL;
	char *end;
	unsigned long portnum;
	size_t hlen;

	/* A Unix socket: only [lmtp] accepts one (config_validate). */
	if (strncmp(text, "unix:", 5) == 0) {
		struct sockaddr_un sun;
		size_t plen = strlen(text + 5);

		if (text[5] != '/' || plen >= sizeof(sun.sun_path))
			return -1;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, text + 5, plen + 1);
		memset(addr_r, 0, sizeof(*addr_r));
		memcpy(addr_r, &sun, sizeof(sun));
		*len_r = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
		return 0;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hlen = (size_t)(close - text - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		port = close + 2;
	} else if ((colon = strrchr(text, ':')) != NULL) {
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host) || memchr(text, ':', hlen) != NULL)
			return -1;
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		port = colon + 1;
	} else {
		strcpy(host, "0.0.0.0");
		port = text;
	}
	if (strcmp(host, "*") == 0 || host[0] == '\0')
		strcpy(host, "0.0.0.0");
	if (!isdigit((unsigned char)*port))
		return -1;
	errno = 0;
	portnum = strtoul(port, &end, 10);
	if (errno != 0 || *end != '\0' || portnum > 65535)
		return -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	/* Only numeric addresses and "localhost": a listener must not depend
	 * on DNS at start-up. */
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	else
		hints.ai_flags |= AI_NUMERICHOST;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return -1;
	memcpy(addr_r, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void listen_list_free(struct config_listen_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].text);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int config_set_listen(struct config_listen_list *list, const char *value, unsigned line,
			     const char **bad_r)
{
	static char bad[256];
	char *copy = xstrdup(value), *save = NULL, *tok;

	listen_list_free(list);
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		struct config_listen item;

		memset(&item, 0, sizeof(item));
		if (config_parse_listen(tok, &item.addr, &item.addr_len) < 0) {
			snprintf(bad, sizeof(bad), "%s", tok);
			*bad_r = bad;
			free(copy);
			return -1;
		}
		item.text = xstrdup(tok);
		item.line = line;
		list->items = xreallocarray(list->items, list->count + 1, sizeof(item));
		list->items[list->count++] = item;
	}
	free(copy);
	return 0;
}

static int parse_bool(const char *value, bool *b_r)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
	    strcasecmp(value, "on") == 0 || strcmp(value, "1") == 0)
		*b_r = true;
	else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
		 strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0)
		*b_r = false;
	else
		return -1;
	return 0;
}

static int parse_uint(const char *value, unsigned min, unsigned max, unsigned *u_r)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*value))
		return -1;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*u_r = (unsigned)v;
	return 0;
}

/* Sets one key from its text value. Returns 0, or -1 with *why_r set. */
static int config_set(struct floe_config *cfg, const struct config_key *k, const char *value,
		      unsigned line, const char **why_r)
{
	static char why[512];
	void *field = (char *)cfg + k->offset;
	const char *bad = NULL;
	enum log_level level;
	long ncpu;

	switch (k->type) {
	case CT_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CT_URL:
		if (*value != '\0' && strncasecmp(value, "http://", 7) != 0 &&
		    strncasecmp(value, "https://", 8) != 0) {
			*why_r = "expected an http:// or https:// URL";
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CT_DBURL:
		if (strcmp(value, "local") != 0 && strncmp(value, "postgresql://", 13) != 0 &&
		    strncmp(value, "postgres://", 11) != 0 && strchr(value, '=') == NULL) {
			*why_r = "expected \"local\", a postgresql:// URL or a libpq "
				 "connection string";
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CT_CHOICE: {
		size_t n = strlen(value);
		const char *choices = config_key_choices(k), *c = choices;

		while (c != NULL) {
			const char *bar = strchr(c, '|');
			size_t clen = bar != NULL ? (size_t)(bar - c) : strlen(c);

			if (n > 0 && clen == n && strncmp(c, value, n) == 0)
				break;
			c = bar != NULL ? bar + 1 : NULL;
		}
		if (c == NULL) {
			snprintf(why, sizeof(why), "expected one of %s", choices);
			for (char *p = why; *p != '\0'; p++) {
				if (*p == '|')
					*p = ',';
			}
			*why_r = why;
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	}
	case CT_LOGLEVEL:
		if (log_level_parse(value, &level) < 0) {
			*why_r = "expected debug, info, warning or error";
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CT_UINT:
		if (parse_uint(value, k->min, k->max, field) < 0) {
			snprintf(why, sizeof(why), "expected a whole number from %u to %u", k->min,
				 k->max);
			*why_r = why;
			return -1;
		}
		return 0;
	case CT_WORKERS:
		if (strcasecmp(value, "auto") == 0) {
			ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			*(unsigned *)field = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (unsigned)ncpu;
			return 0;
		}
		if (parse_uint(value, k->min, k->max, field) < 0) {
			snprintf(why, sizeof(why), "expected \"auto\" or a number from %u to %u",
				 k->min, k->max);
			*why_r = why;
			return -1;
		}
		return 0;
	case CT_BOOL:
		if (parse_bool(value, field) < 0) {
			*why_r = "expected yes or no";
			return -1;
		}
		return 0;
	case CT_SIZE:
		if (config_parse_size(value, field) < 0) {
			*why_r = "expected a size such as 512k, 10M or 1G";
			return -1;
		}
		return 0;
	case CT_DURATION:
		if (config_parse_duration_ms(value, field) < 0) {
			*why_r = "expected a duration such as 500ms, 30s, 5m or 1h";
			return -1;
		}
		return 0;
	case CT_MODE: {
		char *end;
		unsigned long mode;

		errno = 0;
		mode = strtoul(value, &end, 8);
		if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || mode > 0777) {
			*why_r = "expected octal permissions such as 0660";
			return -1;
		}
		*(unsigned *)field = (unsigned)mode;
		return 0;
	}
	case CT_LISTEN:
		if (config_set_listen(field, value, line, &bad) < 0) {
			snprintf(why, sizeof(why),
				 "bad listen address \"%s\" (expected host:port, [v6addr]:port or "
				 "port, with a numeric host, or unix:/absolute/path)",
				 bad);
			*why_r = why;
			return -1;
		}
		return 0;
	}
	*why_r = "internal error: unknown key type";
	return -1;
}

static const struct config_key *config_find(const char *section, const char *key)
{
	for (const struct config_key *k = config_keys; k->section != NULL; k++) {
		if (strcmp(k->section, section) == 0 && strcmp(k->key, key) == 0)
			return k;
	}
	return NULL;
}

static bool config_section_known(const char *section)
{
	for (const struct config_key *k = config_keys; k->section != NULL; k++) {
		if (strcmp(k->section, section) == 0)
			return true;
	}
	return false;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Removes a comment that starts with '#' or ';' preceded by whitespace (or
 * at the start), outside double quotes, then unquotes "value". */
static char *config_value(char *v)
{
	bool quoted = false;
	size_t len;

	for (char *p = v; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == '#' || *p == ';') &&
			 (p == v || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	v = trim(v);
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		v[len - 1] = '\0';
		v++;
	}
	return v;
}

static void config_add_line(struct floe_config *cfg, const char *section, const char *key,
			    unsigned line)
{
	if (strcmp(section, "tls") == 0 && strcmp(key, "cert") == 0)
		cfg->line_tls_cert = line;
	else if (strcmp(section, "tls") == 0 && strcmp(key, "key") == 0)
		cfg->line_tls_key = line;
	else if (strcmp(section, "server") == 0 && strcmp(key, "user") == 0)
		cfg->line_server_user = line;
	else if (strcmp(section, "db") == 0 && strcmp(key, "url") == 0)
		cfg->line_db_url = line;
}

static bool sockaddr_equal(const struct config_listen *a, const struct config_listen *b)
{
	return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

/* Checks that span keys: TLS listeners need a certificate, no address is
 * bound twice, the user exists, paths are absolute. */
static void config_validate(struct floe_config *cfg, struct config_errors *errors)
{
	struct {
		const char *name;
		struct config_listen_list *list;
		bool tls;
	} lists[] = {
		{"imap.listen", &cfg->imap.listen, false},
		{"imap.listen_tls", &cfg->imap.listen_tls, true},
		{"http.listen", &cfg->http.listen, false},
		{"http.listen_tls", &cfg->http.listen_tls, true},
		{"lmtp.listen", &cfg->lmtp.listen, false},
		{"smtp.listen", &cfg->smtp.listen, false},
		{"smtp.listen_tls", &cfg->smtp.listen_tls, true},
		{"pop3.listen", &cfg->pop3.listen, false},
		{"pop3.listen_tls", &cfg->pop3.listen_tls, true},
	};
	const size_t nlists = sizeof(lists) / sizeof(lists[0]);
	bool need_tls = false;

	for (size_t i = 0; i < nlists; i++) {
		for (size_t j = 0; j < lists[i].list->count; j++) {
			struct config_listen *a = &lists[i].list->items[j];

			if (a->addr.ss_family == AF_UNIX && lists[i].list != &cfg->lmtp.listen)
				config_error(errors, cfg->path, a->line,
					     "%s = %s: a Unix socket is only for [lmtp] listen; this "
					     "protocol listens on TCP (host:port)",
					     lists[i].name, a->text);
			if (lists[i].tls && (cfg->tls.cert[0] == '\0' || cfg->tls.key[0] == '\0')) {
				config_error(errors, cfg->path, a->line,
					     "%s = %s needs a certificate: set [tls] cert and key",
					     lists[i].name, a->text);
			}
			/* STARTTLS on plain IMAP and SMTP listeners needs one too, but
			 * only to offer STARTTLS; those still start without. */
			if (lists[i].tls)
				need_tls = true;
			for (size_t k = i; k < nlists; k++) {
				for (size_t m = (k == i ? j + 1 : 0); m < lists[k].list->count;
				     m++) {
					struct config_listen *b = &lists[k].list->items[m];

					if (sockaddr_equal(a, b))
						config_error(errors, cfg->path, b->line,
							     "%s = %s: address already used by %s "
							     "(line %u)",
							     lists[k].name, b->text, lists[i].name,
							     a->line);
				}
			}
		}
	}
	(void)need_tls;
	if ((cfg->tls.cert[0] == '\0') != (cfg->tls.key[0] == '\0'))
		config_error(errors, cfg->path,
			     cfg->tls.cert[0] == '\0' ? cfg->line_tls_key : cfg->line_tls_cert,
			     "[tls] cert and key must be set together");
	if (cfg->tls.cert[0] != '\0' && access(cfg->tls.cert, R_OK) != 0)
		config_error(errors, cfg->path, cfg->line_tls_cert, "[tls] cert %s: %s",
			     cfg->tls.cert, strerror(errno));
	if (cfg->tls.key[0] != '\0' && access(cfg->tls.key, R_OK) != 0)
		config_error(errors, cfg->path, cfg->line_tls_key, "[tls] key %s: %s", cfg->tls.key,
			     strerror(errno));
	if (cfg->server.state_dir[0] != '/')
		config_error(errors, cfg->path, 0, "[server] state_dir must be an absolute path");
	if (cfg->server.user[0] != '\0' && getpwnam(cfg->server.user) == NULL)
		config_error(errors, cfg->path, cfg->line_server_user,
			     "[server] user \"%s\" does not exist", cfg->server.user);
	if (cfg->imap.max_line_length < 8192)
		config_error(errors, cfg->path, 0, "[imap] max_line_length must be at least 8k");
	if (cfg->lmtp.socket_group[0] != '\0' && getgrnam(cfg->lmtp.socket_group) == NULL)
		config_error(errors, cfg->path, 0, "[lmtp] socket_group \"%s\" does not exist",
			     cfg->lmtp.socket_group);
	if (cfg->http.max_header_size < 1024)
		config_error(errors, cfg->path, 0, "[http] max_header_size must be at least 1k");
}

struct floe_config *config_parse(const char *path, const char *text, struct config_errors *errors)
{
	struct floe_config *cfg = xcalloc(1, sizeof(*cfg));
	char section[64] = "";
	unsigned lineno = 0;
	size_t before = errors->count;
	unsigned *seen = xcalloc(sizeof(config_keys) / sizeof(config_keys[0]), sizeof(unsigned));
	const char *p = text;

	cfg->path = xstrdup(path);
	for (const struct config_key *k = config_keys; k->section != NULL; k++) {
		const char *why;

		if (config_set(cfg, k, k->def, 0, &why) < 0)
			config_error(errors, path, 0, "bad built-in default for %s.%s: %s",
				     k->section, k->key, why);
	}

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char buf[CONFIG_MAX_LINE + 1], *line, *eq, *key, *value;
		const struct config_key *k;
		const char *why;

		lineno++;
		if (len > CONFIG_MAX_LINE) {
			config_error(errors, path, lineno, "line longer than %d bytes",
				     CONFIG_MAX_LINE);
			p = nl != NULL ? nl + 1 : p + len;
			continue;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		p = nl != NULL ? nl + 1 : p + len;
		if (memchr(buf, '\0', len) != NULL) {
			config_error(errors, path, lineno, "NUL byte in line");
			continue;
		}
		line = trim(buf);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			char *close = strchr(line, ']');

			if (close == NULL || trim(close + 1)[0] != '\0' ||
			    (trim(close + 1)[0] != '\0' && trim(close + 1)[0] != '#')) {
				config_error(errors, path, lineno,
					     "malformed section header (expected [name])");
				section[0] = '\0';
				continue;
			}
			*close = '\0';
			line = trim(line + 1);
			if (!config_section_known(line)) {
				config_error(errors, path, lineno, "unknown section [%s]", line);
				snprintf(section, sizeof(section), "%s", "?");
				continue;
			}
			snprintf(section, sizeof(section), "%s", line);
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL) {
			config_error(errors, path, lineno, "expected \"key = value\"");
			continue;
		}
		*eq = '\0';
		key = trim(line);
		value = config_value(eq + 1);
		if (section[0] == '?')
			continue; /* already reported the unknown section */
		if (section[0] == '\0') {
			config_error(errors, path, lineno, "key \"%s\" outside any [section]", key);
			continue;
		}
		k = config_find(section, key);
		if (k == NULL) {
			config_error(errors, path, lineno, "unknown key \"%s\" in [%s]", key,
				     section);
			continue;
		}
		if (seen[k - config_keys] != 0) {
			config_error(errors, path, lineno, "%s.%s set twice (first at line %u)",
				     section, key, seen[k - config_keys]);
			continue;
		}
		seen[k - config_keys] = lineno;
		config_add_line(cfg, section, key, lineno);
		if (config_set(cfg, k, value, lineno, &why) < 0)
			config_error(errors, path, lineno, "%s.%s = \"%s\": %s", section, key,
				     value, why);
	}
	free(seen);
	if (errors->count == before)
		config_validate(cfg, errors);
	if (errors->count != before) {
		config_free(&cfg);
		return NULL;
	}
	return cfg;
}

struct floe_config *config_load(const char *path, struct config_errors *errors)
{
	FILE *f = fopen(path, "r");
	struct floe_config *cfg;
	char *text;
	size_t n;

	if (f == NULL) {
		config_error(errors, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	text = xmalloc(CONFIG_MAX_FILE_SIZE + 1);
	n = fread(text, 1, CONFIG_MAX_FILE_SIZE + 1, f);
	if (ferror(f)) {
		config_error(errors, path, 0, "cannot read: %s", strerror(errno));
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	if (n > CONFIG_MAX_FILE_SIZE) {
		config_error(errors, path, 0, "file larger than %d bytes", CONFIG_MAX_FILE_SIZE);
		free(text);
		return NULL;
	}
	text[n] = '\0';
	cfg = config_parse(path, text, errors);
	free(text);
	return cfg;
}

void config_free(struct floe_config **cfgp)
{
	struct floe_config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (const struct config_key *k = config_keys; k->section != NULL; k++) {
		void *field = (char *)cfg + k->offset;

		switch (k->type) {
		case CT_STRING:
		case CT_URL:
		case CT_DBURL:
		case CT_LOGLEVEL:
		case CT_CHOICE:
			free(*(char **)field);
			break;
		case CT_LISTEN:
			listen_list_free(field);
			break;
		default:
			break;
		}
	}
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}

char *config_state_path(const struct floe_config *cfg, const char *name)
{
	return xasprintf("%s/%s", cfg->server.state_dir, name);
}

char *config_db_conninfo(const struct floe_config *cfg)
{
	if (strcmp(cfg->db.url, "local") == 0) {
		/* The embedded cluster (db/embedded.c) listens only on this socket. */
		return xasprintf("host=%s/run port=5432 dbname=floe user=floe "
				 "application_name=floe",
				 cfg->server.state_dir);
	}
	return xstrdup(cfg->db.url);
}
