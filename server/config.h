/* The configuration file: INI-style sections with "key = value" lines and
 * '#' or ';' comments. Every key is declared in one table (config.c) with
 * its type and default; etc/floe.conf documents each one. Errors carry
 * "file:line: reason". */
#ifndef FLOE_CONFIG_H
#define FLOE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* One listening address from a "listen" key. */
struct config_listen {
	char *text;                  /* as written: "127.0.0.1:143", "[::1]:993" */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned line;               /* where it was configured */
};

struct config_listen_list {
	struct config_listen *items;
	size_t count;
};

struct floe_config {
	char *path; /* the file it was read from */

	struct {
		char *state_dir;
		unsigned workers; /* "auto" resolves to the number of cores */
		char *user;       /* empty: do not change user */
		unsigned shutdown_timeout_ms;
		unsigned restart_backoff_max_ms;
	} server;
	struct {
		char *level;
		char *file; /* empty: stderr */
	} log;
	struct {
		char *url; /* "local" or a libpq URL/conninfo */
		unsigned pool_size;
		unsigned query_timeout_ms;
		unsigned connect_timeout_ms;
		char *pg_bindir; /* embedded cluster binaries; empty: search */
	} db;
	struct {
		char *cert;
		char *key;
		char *ciphers;
	} tls;
	struct {
		struct config_listen_list listen, listen_tls;
		bool allow_plaintext_auth;
		size_t max_line_length;
		size_t max_literal_size; /* APPENDLIMIT */
		unsigned commands_per_second; /* 0: unlimited */
		unsigned max_connections_per_account;
		unsigned max_connections_per_ip;
		unsigned idle_keepalive_ms;
		unsigned autologout_ms;
		size_t cache_size; /* per-worker message cache; 0: off */
		/* [imap] keys */
	} imap;
	struct {
		unsigned max_failures;    /* per address and per account, within failure_window */
		unsigned failure_window_ms;
		unsigned lockout_ms;
		unsigned failure_delay_ms;
		unsigned threads;         /* password-hashing threads per worker */
		unsigned cache_ttl_ms;    /* remember successful logins (0: off) */
	} auth;
	struct {
		struct config_listen_list listen, listen_tls;
		char *public_url;
		size_t max_body_size;
		size_t max_header_size;
		unsigned header_timeout_ms;
		unsigned body_timeout_ms;
		unsigned keepalive_timeout_ms;
		unsigned write_timeout_ms;
	} http;
	struct {
		struct config_listen_list listen;
		size_t max_message_size; /* 0: imap.max_literal_size */
		unsigned max_recipients;
		size_t max_line_length;
		unsigned timeout_ms;
		unsigned socket_mode; /* of a unix: listener (octal in the file) */
		char *socket_group;   /* its group; empty: the server user's */
		/* [lmtp] keys */
	} lmtp;
	struct {
		struct config_listen_list listen, listen_tls;
		size_t max_message_size;
		unsigned max_recipients;
		unsigned messages_per_hour; /* per account; 0: unlimited */
		unsigned timeout_ms;        /* idle client */
		unsigned max_connections_per_ip;
		/* [smtp] keys */
	} smtp;
	struct {
		char *relay;          /* "host:port", "[v6]:port"; empty: MX delivery */
		char *relay_user;     /* empty: no AUTH */
		char *relay_password;
		char *relay_tls;      /* off, opportunistic, required, implicit */
		bool relay_tls_verify;
		char *hostname;       /* HELO name and MAILER-DAEMON domain; empty: the machine's */
		unsigned max_age_ms;
		unsigned retry_min_ms, retry_max_ms;
		unsigned connect_timeout_ms, command_timeout_ms;
		unsigned data_block_timeout_ms, data_end_timeout_ms;
		unsigned max_parallel; /* SMTP sessions per worker */
		unsigned poll_interval_ms;
		unsigned lease_ms;
		unsigned keep_done_ms;
		unsigned resolver_threads;
		int unused_; /* [queue] keys */
	} queue;
	struct {
		unsigned max_hops;
		/* [delivery] keys */
	} delivery;
	struct {
		struct config_listen_list listen, listen_tls;
		bool allow_plaintext_auth;
		unsigned max_line_length; /* bytes */
		unsigned max_connections_per_account;
		unsigned max_connections_per_ip;
		unsigned autologout_ms;
		/* [pop3] keys */
	} pop3;
	struct {
		unsigned heartbeat_min_ms, heartbeat_max_ms; /* Ping HeartbeatInterval bounds */
		bool heartbeat_clamp;       /* clamp a longer interval; no: Status 5 */
		unsigned ping_max_folders;
		char *provision_status;     /* 449, status or both */
		bool allow_non_provisionable;
		unsigned policy_refresh_interval_ms; /* 0: never */
		bool policy_password_required;
		bool policy_alphanumeric_password;
		bool policy_allow_simple_password;
		unsigned policy_min_password_length;
		unsigned policy_max_inactivity_ms; /* 0: no limit */
		unsigned policy_max_password_failures;
		unsigned policy_password_expiration_days;
		unsigned policy_password_history;
		bool policy_require_encryption;
		bool policy_allow_storage_card;
		bool policy_allow_camera;
		bool policy_allow_attachments;
		size_t policy_max_attachment_size; /* 0: no limit */
		bool policy_allow_html_email;
		unsigned policy_max_email_age_filter;
		unsigned policy_max_calendar_age_filter;
		bool log_bodies;
		/* [eas] keys */
	} eas;
	struct {
		unsigned trash_days;              /* GroupWare Trash: purge after (0: never) */
		unsigned trash_purge_interval_ms; /* how often each worker purges (0: never) */
		int unused_; /* [groupware] keys */
	} groupware;
	struct {
		bool notify;                /* share notification mail */
		unsigned notify_poll_ms;    /* runner poll interval */
		unsigned notify_max_age_ms; /* undeliverable notices dropped after */
		int unused_; /* [sharing] keys */
	} sharing;
	struct {
		bool test_endpoints;
	} debug;

	/* line numbers of keys that later validation refers to */
	unsigned line_tls_cert, line_tls_key, line_server_user, line_db_url;
};

/* Collected errors, each "file:line: reason". */
struct config_errors {
	char **lines;
	size_t count;
};

/* Reads and validates path. Returns the configuration, or NULL with every
 * problem found appended to errors (the caller frees them). */
struct floe_config *config_load(const char *path, struct config_errors *errors);
/* Same from a string (path only names it in messages). */
struct floe_config *config_parse(const char *path, const char *text, struct config_errors *errors);
void config_free(struct floe_config **cfg);
void config_errors_clear(struct config_errors *errors);

/* Describes every key: for `floed --help-config` and the documentation test. */
struct config_key_doc {
	const char *section;
	const char *key;
	const char *default_value;
};
/* Terminated by an entry with section == NULL. */
const struct config_key_doc *config_key_docs(void);

/* Parsers shared with other code; each returns 0 or -1. */
int config_parse_size(const char *text, size_t *size_r);           /* 10M, 512k, 1g */
int config_parse_duration_ms(const char *text, unsigned *ms_r);     /* 30s, 500ms, 2m */
int config_parse_listen(const char *text, struct sockaddr_storage *addr_r, socklen_t *len_r);

/* The libpq connection string for cfg (resolving "local" to the embedded
 * cluster's socket under state_dir). The caller frees it. */
char *config_db_conninfo(const struct floe_config *cfg);
/* Paths under state_dir used by the embedded cluster. Caller frees. */
char *config_state_path(const struct floe_config *cfg, const char *name);

#endif
