/* floectl internals shared by its source files: the command descriptor
 * table, parsed arguments, the database connection made on demand, and
 * output helpers (aligned tables for people, JSON for scripts). */
#ifndef FLOE_FLOECTL_H
#define FLOE_FLOECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

/* Exit statuses. */
#define FLOECTL_EXIT_OK    0
#define FLOECTL_EXIT_ERROR 1 /* the command failed */
#define FLOECTL_EXIT_USAGE 2 /* the command line was wrong */

#define FLOECTL_MAX_OPTIONS 8

struct floectl_option {
	const char *name; /* "--display-name" */
	const char *arg;  /* "NAME"; NULL for a flag */
	const char *help;
};

struct floectl_args {
	const char *const *pos; /* positional arguments */
	size_t npos;
	/* per entry of the command's options: the value ("" for a flag), or NULL */
	const char *values[FLOECTL_MAX_OPTIONS];
};

struct floectl;
struct floe_config;

struct floectl_command {
	const char *name;                     /* "group members add" */
	const char *args;                     /* "GROUP MEMBER..." */
	const char *summary;                  /* one line */
	const char *help;                     /* what it does, in sentences */
	const struct floectl_option *options; /* terminated by .name == NULL; may be NULL */
	size_t min_args, max_args;            /* max_args SIZE_MAX: any number */
	int (*exec)(struct floectl *ctl, const struct floectl_command *cmd,
	            const struct floectl_args *args);
};

/* Handlers of commands implemented in other files (tools/floectl-*.c),
 * listed in the table of floectl-commands.c. */
/* tools/floectl-share.c: folders, sharing, public folders */
extern const struct floectl_option floectl_folder_list_options[];
extern const struct floectl_option floectl_folder_create_options[];
extern const struct floectl_option floectl_public_folder_create_options[];
int floectl_cmd_folder_list(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
int floectl_cmd_folder_create(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_folder_remove(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_public_folder_create(struct floectl *ctl, const struct floectl_command *cmd,
                                     const struct floectl_args *args);
int floectl_cmd_share_grant(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
int floectl_cmd_share_revoke(struct floectl *ctl, const struct floectl_command *cmd,
                             const struct floectl_args *args);
int floectl_cmd_share_list(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args);
int floectl_cmd_share_inherit(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_share_subscribe(struct floectl *ctl, const struct floectl_command *cmd,
                                const struct floectl_args *args);
int floectl_cmd_share_unsubscribe(struct floectl *ctl, const struct floectl_command *cmd,
                                  const struct floectl_args *args);
int floectl_cmd_share_subscriptions(struct floectl *ctl, const struct floectl_command *cmd,
                                    const struct floectl_args *args);
/* floectl handlers: device */
/* tools/floectl-device.c: ActiveSync devices */
int floectl_cmd_device_list(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
int floectl_cmd_device_show(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
int floectl_cmd_device_log(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args);
int floectl_cmd_device_remove(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
/* floectl handlers: delivery */
/* tools/floectl-delivery.c: forward, responder, sendas */
extern const struct floectl_option floectl_forward_set_options[];
extern const struct floectl_option floectl_responder_set_options[];
int floectl_cmd_forward_set(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
int floectl_cmd_forward_clear(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_forward_show(struct floectl *ctl, const struct floectl_command *cmd,
                             const struct floectl_args *args);
int floectl_cmd_responder_set(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_responder_show(struct floectl *ctl, const struct floectl_command *cmd,
                               const struct floectl_args *args);
int floectl_cmd_sendas_add(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args);
int floectl_cmd_sendas_remove(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_sendas_list(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
/* floectl handlers: trash */
/* tools/floectl-trash.c: the GroupWare Trash */
extern const struct floectl_option floectl_trash_restore_options[];
extern const struct floectl_option floectl_trash_purge_options[];
int floectl_cmd_trash_list(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args);
int floectl_cmd_trash_restore(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args);
int floectl_cmd_trash_purge(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
/* floectl handlers: file */
/* tools/floectl-file.c: files of file folders */
extern const struct floectl_option floectl_file_put_options[];
int floectl_cmd_file_put(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args);
int floectl_cmd_file_get(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args);
int floectl_cmd_file_list(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args);
/* floectl handlers: queue */
extern const struct floectl_option floectl_queue_retry_options[];
int floectl_cmd_queue_list(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args);
int floectl_cmd_queue_show(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args);
int floectl_cmd_queue_retry(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args);
int floectl_cmd_queue_remove(struct floectl *ctl, const struct floectl_command *cmd,
                             const struct floectl_args *args);
int floectl_cmd_smtp_save_sent(struct floectl *ctl, const struct floectl_command *cmd,
                               const struct floectl_args *args);

/* Terminated by .name == NULL (floectl-commands.c). */
extern const struct floectl_command floectl_commands[];

/* floectl.c */
/* The connection, made on first use: loads the configuration, connects
 * and, when migrate is set, brings the schema up to date. Returns NULL
 * after printing the one-line reason. */
PGconn *floectl_db(struct floectl *ctl, bool migrate);
/* For commands on one account: text normalised as an address (admin.h)
 * into *address_r (the caller frees), then floectl_db(ctl, true). Returns
 * NULL, with nothing to free, after printing the reason. */
PGconn *floectl_db_account(struct floectl *ctl, const char *text, char **address_r);
/* The configuration floectl_db loaded (NULL before it succeeded). */
const struct floe_config *floectl_config(const struct floectl *ctl);
bool floectl_json(const struct floectl *ctl);
/* Prints "floectl: <message>" on stderr; returns -1. */
int floectl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like floectl_fail for command-line mistakes: adds the hint to the help
 * of cmd and makes floectl exit with FLOECTL_EXIT_USAGE. */
int floectl_usage_fail(const struct floectl_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The value of option name of cmd, or NULL when not given. */
const char *floectl_option(const struct floectl_command *cmd, const struct floectl_args *args,
                           const char *name);
/* Reads a password: from a terminal without echo (asking twice when
 * confirm is set), otherwise one line from standard input. Returns 0 with
 * *password_r allocated (the caller wipes and frees it), or -1 after
 * printing the reason. */
int floectl_read_password(bool confirm, char **password_r);
/* Parses "yes"/"no" (also true/false, on/off, 1/0) for option name. */
int floectl_parse_bool(const struct floectl_command *cmd, const char *name, const char *text,
                       bool *value_r);
/* Parses a size such as 500M or 2G, or "unlimited"/"0" (0). */
int floectl_parse_quota(const struct floectl_command *cmd, const char *text, int64_t *bytes_r);

/* floectl-output.c */
struct floectl_table {
	size_t ncols, nrows;
	const char *const *headers;
	char **cells; /* nrows * ncols */
};

void floectl_table_init(struct floectl_table *table, size_t ncols, const char *const *headers);
/* Adds a row of ncols strings (copied). */
void floectl_table_row(struct floectl_table *table, const char *const *cells);
/* Prints the table with aligned columns and frees its rows. */
void floectl_table_print(struct floectl_table *table);
/* Prints value as indented JSON and releases it. */
void floectl_json_print(json_t *value);
/* "unlimited", "2G", "500M", "64K" or a byte count. */
const char *floectl_format_size(int64_t bytes, char buf[32]);
const char *floectl_yes_no(bool value);

#endif
