/* floectl: the administration command. Parses the command line against
 * the command table (floectl-commands.c), prints help, reads passwords,
 * and connects to the database named by the Floe configuration file with
 * blocking libpq (fine for a command-line tool, never done in the server). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "admin.h"
#include "floectl.h"
#include "log.h"
#include "migrate.h"
#include "password.h"
#include "server/config.h"
#include "xmalloc.h"

#define FLOECTL_DEFAULT_CONFIG SYSCONFDIR "/floe.conf"

struct floectl {
	const char *config_path;
	bool json;
	bool usage_error; /* the failure was a command-line mistake */
	struct floe_config *config;
	PGconn *conn;
	bool migrated;
};

static struct floectl floectl_ctl;

/* Messages */

static void
floectl_vmessage(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("floectl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
floectl_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	floectl_vmessage(fmt, ap);
	va_end(ap);
	return -1;
}

int
floectl_usage_fail(const struct floectl_command *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	floectl_ctl.usage_error = true;
	if (cmd != NULL)
		return floectl_fail("%s: %s (see floectl help %s)", cmd->name, msg, cmd->name);
	return floectl_fail("%s (see floectl --help)", msg);
}

bool
floectl_json(const struct floectl *ctl)
{
	return ctl->json;
}

/* Help */

static void
floectl_print_command(FILE *out, const struct floectl_command *cmd, bool detailed)
{
	fprintf(out, "  floectl %s%s%s", cmd->name, cmd->args[0] != '\0' ? " " : "", cmd->args);
	for (const struct floectl_option *o = cmd->options; o != NULL && o->name != NULL; o++)
		fprintf(out, " [%s%s%s]", o->name, o->arg != NULL ? " " : "",
		        o->arg != NULL ? o->arg : "");
	fprintf(out, "\n      %s\n", cmd->summary);
	if (!detailed)
		return;
	fprintf(out, "\n");
	/* the help text is wrapped by hand in the table; indent each line */
	for (const char *p = cmd->help; *p != '\0';) {
		size_t len = strcspn(p, "\n");

		fprintf(out, "    %.*s\n", (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
	if (cmd->options != NULL && cmd->options[0].name != NULL) {
		fprintf(out, "\n  Options:\n");
		for (const struct floectl_option *o = cmd->options; o->name != NULL; o++) {
			char left[64];

			snprintf(left, sizeof(left), "%s%s%s", o->name, o->arg != NULL ? " " : "",
			         o->arg != NULL ? o->arg : "");
			fprintf(out, "    %-24s %s\n", left, o->help);
		}
	}
}

static void
floectl_usage(FILE *out)
{
	fprintf(out,
	        "Usage: floectl [--config FILE] [--json] COMMAND [ARGUMENTS] [OPTIONS]\n"
	        "\n"
	        "Administers a Floe server: domains, users, aliases and groups in the\n"
	        "database that the configuration file names ([db] url). floed does not\n"
	        "need to be running unless url = local (the embedded cluster).\n"
	        "\n"
	        "Global options (anywhere on the line):\n"
	        "  -c, --config FILE   configuration file (default " FLOECTL_DEFAULT_CONFIG ")\n"
	        "  -j, --json          print results as JSON for scripts\n"
	        "  -h, --help          this text; after a command: that command's help\n"
	        "  -V, --version       print the version\n"
	        "\n"
	        "Addresses are local@domain and are stored in lower case. Sizes take the\n"
	        "suffixes K, M and G (binary: 1G = 1024M); a quota of 0 or \"unlimited\"\n"
	        "means no limit. Boolean options take yes or no.\n"
	        "\n"
	        "Commands:\n");
	for (const struct floectl_command *cmd = floectl_commands; cmd->name != NULL; cmd++)
		floectl_print_command(out, cmd, false);
	fprintf(out,
	        "\n"
	        "Exit status: 0 on success, 1 when the command failed, 2 for a mistake on the\n"
	        "command line; the reason is one line \"floectl: ...\" on standard error.\n"
	        "\"floectl help COMMAND\" describes a command in full.\n");
}

/* Prints help for every command whose name starts with the words given. */
static int
floectl_help(const char *const *words, size_t nwords)
{
	char topic[256] = "";
	size_t topic_len, matches = 0;

	if (nwords == 0) {
		floectl_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < nwords; i++) {
		if (strlen(topic) + strlen(words[i]) + 2 >= sizeof(topic))
			break;
		if (i > 0)
			strcat(topic, " ");
		strcat(topic, words[i]);
	}
	topic_len = strlen(topic);
	for (const struct floectl_command *cmd = floectl_commands; cmd->name != NULL; cmd++) {
		if (strcmp(cmd->name, topic) == 0 ||
		    (strncmp(cmd->name, topic, topic_len) == 0 && cmd->name[topic_len] == ' ')) {
			if (matches++ > 0)
				printf("\n");
			floectl_print_command(stdout, cmd, true);
		}
	}
	if (matches == 0) {
		floectl_ctl.usage_error = true;
		return floectl_fail("no command '%s' (see floectl --help)", topic);
	}
	return 0;
}

/* Configuration and database */

static void
floectl_notice(void *ctx, const char *message)
{
	(void)ctx;
	log_debug("database: %s", message);
}

/* libpq messages span lines: "connection to server at ... failed: ...",
 * then a tab-indented hint, repeated for each address tried. floectl
 * reports one line: the failures without the hints, joined by "; ". */
static void
floectl_one_line(const char *in, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	while (*in != '\0') {
		size_t len = strcspn(in, "\n");

		if (len > 0 && in[0] != '\t' && n + 3 < size) {
			n += (size_t)snprintf(out + n, size - n, "%s%.*s", n > 0 ? "; " : "",
			                      (int)len, in);
			if (n >= size)
				n = size - 1;
		}
		in += len;
		if (*in == '\n')
			in++;
	}
	if (out[0] == '\0')
		snprintf(out, size, "unknown error");
}

PGconn *
floectl_db_account(struct floectl *ctl, const char *text, char **address_r)
{
	const char *error;
	PGconn *conn;

	if (admin_address_normalize(text, address_r, NULL, NULL, &error) < 0) {
		floectl_fail("%s", error);
		return NULL;
	}
	if ((conn = floectl_db(ctl, true)) == NULL) {
		free(*address_r);
		*address_r = NULL;
	}
	return conn;
}

const struct floe_config *
floectl_config(const struct floectl *ctl)
{
	return ctl->config;
}

PGconn *
floectl_db(struct floectl *ctl, bool migrate)
{
	struct config_errors errors = {0};
	char timeout[16], reason[1024];
	const char *error;
	char *conninfo;

	if (ctl->conn == NULL) {
		ctl->config = config_load(ctl->config_path, &errors);
		if (ctl->config == NULL) {
			for (size_t i = 0; i < errors.count; i++)
				floectl_fail("%s", errors.lines[i]);
			if (errors.count == 0)
				floectl_fail("%s: invalid configuration", ctl->config_path);
			config_errors_clear(&errors);
			return NULL;
		}
		conninfo = config_db_conninfo(ctl->config);
		/* libpq counts whole seconds and treats 1 as 2 */
		snprintf(timeout, sizeof(timeout), "%u",
		         ctl->config->db.connect_timeout_ms == 0
		             ? 10
		             : (ctl->config->db.connect_timeout_ms + 999) / 1000);
		/* later entries override earlier ones: a connect_timeout in the URL
		 * wins, the application name is always ours */
		const char *keys[] = {"connect_timeout", "dbname", "application_name", NULL};
		const char *values[] = {timeout, conninfo, "floectl", NULL};
		ctl->conn = PQconnectdbParams(keys, values, 1);
		free(conninfo);
		if (PQstatus(ctl->conn) != CONNECTION_OK) {
			floectl_one_line(PQerrorMessage(ctl->conn), reason, sizeof(reason));
			floectl_fail("database unreachable: %s%s", reason,
			             strcmp(ctl->config->db.url, "local") == 0
			                 ? " (is floed running?)"
			                 : "");
			PQfinish(ctl->conn);
			ctl->conn = NULL;
			return NULL;
		}
		PQsetNoticeProcessor(ctl->conn, floectl_notice, NULL);
	}
	if (migrate && !ctl->migrated) {
		if (db_migrate(ctl->conn, &error) < 0) {
			floectl_one_line(error, reason, sizeof(reason));
			floectl_fail("database migration failed: %s", reason);
			return NULL;
		}
		ctl->migrated = true;
	}
	return ctl->conn;
}

/* Passwords */

static struct termios floectl_saved_termios;
static volatile sig_atomic_t floectl_echo_off;

static void
floectl_restore_echo(int sig)
{
	if (floectl_echo_off)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &floectl_saved_termios);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from stdin into a new string without its line end.
 * Returns 0, or -1 at end of input with nothing read. */
static int
floectl_read_line(char **line_r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = getline(&line, &cap, stdin);

	if (len < 0) {
		free(line);
		return -1;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	*line_r = line;
	return 0;
}

static void
floectl_wipe(char **password)
{
	if (*password != NULL)
		sodium_memzero(*password, strlen(*password));
	xfree_ptr(password);
}

static int
floectl_prompt(const char *prompt, char **password_r)
{
	struct termios quiet;
	struct sigaction sa, old_int, old_term;
	int ret;

	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &floectl_saved_termios) < 0)
		return floectl_fail("cannot read the terminal settings: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = floectl_restore_echo;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	quiet = floectl_saved_termios;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	floectl_echo_off = 1;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &quiet);
	ret = floectl_read_line(password_r);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &floectl_saved_termios);
	floectl_echo_off = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	fputc('\n', stderr);
	if (ret < 0)
		return floectl_fail("no password given");
	return 0;
}

int
floectl_read_password(bool confirm, char **password_r)
{
	char *password = NULL, *again = NULL;

	*password_r = NULL;
	if (isatty(STDIN_FILENO)) {
		if (floectl_prompt("Password: ", &password) < 0)
			return -1;
		if (confirm && password[0] != '\0') {
			if (floectl_prompt("Retype password: ", &again) < 0) {
				floectl_wipe(&password);
				return -1;
			}
			bool same = strcmp(password, again) == 0;
			floectl_wipe(&again);
			if (!same) {
				floectl_wipe(&password);
				return floectl_fail("passwords do not match");
			}
		}
	} else if (floectl_read_line(&password) < 0) {
		return floectl_fail("no password given (use --password or one line on standard "
		                    "input)");
	}
	if (password[0] == '\0') {
		floectl_wipe(&password);
		return floectl_fail("empty password");
	}
	if (strlen(password) > PASSWORD_MAX_LENGTH) {
		floectl_wipe(&password);
		return floectl_fail("password too long (more than %d bytes)", PASSWORD_MAX_LENGTH);
	}
	*password_r = password;
	return 0;
}

/* Option values */

int
floectl_parse_bool(const struct floectl_command *cmd, const char *name, const char *text,
                   bool *value_r)
{
	static const char *const yes[] = {"yes", "y", "true", "on", "1"};
	static const char *const no[] = {"no", "n", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value_r = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value_r = false;
			return 0;
		}
	}
	return floectl_usage_fail(cmd, "%s: expected yes or no, not '%s'", name, text);
}

int
floectl_parse_quota(const struct floectl_command *cmd, const char *text, int64_t *bytes_r)
{
	size_t size;

	if (strcasecmp(text, "unlimited") == 0 || strcasecmp(text, "none") == 0) {
		*bytes_r = 0;
		return 0;
	}
	if (config_parse_size(text, &size) < 0 || (uint64_t)size > (uint64_t)INT64_MAX)
		return floectl_usage_fail(cmd,
		                          "--quota: expected a size such as 500M or 2G, or "
		                          "unlimited, not '%s'",
		                          text);
	*bytes_r = (int64_t)size;
	return 0;
}

/* Command line */

const char *
floectl_option(const struct floectl_command *cmd, const struct floectl_args *args, const char *name)
{
	for (size_t i = 0; cmd->options != NULL && cmd->options[i].name != NULL; i++) {
		if (strcmp(cmd->options[i].name, name) == 0)
			return args->values[i];
	}
	return NULL;
}

/* Handles a global option at argv[*i]: 1 when it was one (and consumed),
 * 0 when it is not global, -1 on error. */
static int
floectl_global_option(int argc, char **argv, int *i, bool *help)
{
	const char *arg = argv[*i];

	if (strcmp(arg, "--json") == 0 || strcmp(arg, "-j") == 0) {
		floectl_ctl.json = true;
		return 1;
	}
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		*help = true;
		return 1;
	}
	if (strncmp(arg, "--config=", 9) == 0) {
		floectl_ctl.config_path = arg + 9;
		return 1;
	}
	if (strcmp(arg, "--config") == 0 || strcmp(arg, "-c") == 0) {
		if (*i + 1 >= argc)
			return floectl_usage_fail(NULL, "%s needs a file name", arg);
		floectl_ctl.config_path = argv[++*i];
		return 1;
	}
	return 0;
}

/* Finds the command named by the longest run of words at argv[start]. */
static const struct floectl_command *
floectl_find_command(int argc, char **argv, int start, int *nwords_r)
{
	const struct floectl_command *best = NULL;
	int best_words = 0;

	for (const struct floectl_command *cmd = floectl_commands; cmd->name != NULL; cmd++) {
		const char *p = cmd->name;
		int w = 0;

		for (int i = start; i < argc; i++) {
			size_t len = strcspn(p, " ");

			if (strlen(argv[i]) != len || strncmp(argv[i], p, len) != 0)
				break;
			w++;
			p += len;
			if (*p == '\0')
				break;
			p++;
		}
		if (*p == '\0' && w > best_words) {
			best = cmd;
			best_words = w;
		}
	}
	*nwords_r = best_words;
	return best;
}

/* True when some command's name starts with the words prefix and more. */
static bool
floectl_is_group(const char *prefix)
{
	size_t len = strlen(prefix);

	for (const struct floectl_command *cmd = floectl_commands; cmd->name != NULL; cmd++) {
		if (strncmp(cmd->name, prefix, len) == 0 && cmd->name[len] == ' ')
			return true;
	}
	return false;
}

/* Explains why no command matched: unknown word, or a group of commands
 * ("user", "group members") given without a valid subcommand. */
static int
floectl_no_command(int argc, char **argv, int start)
{
	char given[256] = "", subs[256] = "";
	int i;

	for (i = start; i < argc && argv[i][0] != '-'; i++) {
		char prefix[256];

		snprintf(prefix, sizeof(prefix), "%s%s%s", given, given[0] != '\0' ? " " : "",
		         argv[i]);
		if (!floectl_is_group(prefix))
			break;
		snprintf(given, sizeof(given), "%s", prefix);
	}
	floectl_ctl.usage_error = true;
	if (given[0] == '\0')
		return floectl_fail("unknown command '%s' (see floectl --help)", argv[start]);

	/* the distinct words that may follow what was given */
	size_t given_len = strlen(given);
	for (const struct floectl_command *cmd = floectl_commands; cmd->name != NULL; cmd++) {
		if (strncmp(cmd->name, given, given_len) != 0 || cmd->name[given_len] != ' ')
			continue;
		const char *word = cmd->name + given_len + 1;
		char one[64];

		snprintf(one, sizeof(one), "%.*s", (int)strcspn(word, " "), word);
		bool seen = false;
		for (const char *s = subs; *s != '\0' && !seen; s += strspn(s, ", ")) {
			size_t l = strcspn(s, ",");

			seen = l == strlen(one) && strncmp(s, one, l) == 0;
			s += l;
		}
		if (!seen && strlen(subs) + strlen(one) + 3 < sizeof(subs))
			snprintf(subs + strlen(subs), sizeof(subs) - strlen(subs), "%s%s",
			         subs[0] != '\0' ? ", " : "", one);
	}
	if (i < argc && argv[i][0] != '-')
		return floectl_fail("unknown command '%s %s' (%s takes %s; see floectl help %s)",
		                    given, argv[i], given, subs, given);
	return floectl_fail("'%s' needs a subcommand: %s (see floectl help %s)", given, subs,
	                    given);
}

/* Splits the arguments after the command words into positional arguments
 * and the command's options; global options are accepted anywhere. */
static int
floectl_parse_args(const struct floectl_command *cmd, int argc, char **argv, int start,
                   const char **pos, struct floectl_args *args_r, bool *help)
{
	bool options_done = false;

	memset(args_r, 0, sizeof(*args_r));
	args_r->pos = pos;
	for (int i = start; i < argc; i++) {
		const char *arg = argv[i];

		if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
			pos[args_r->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		int global = floectl_global_option(argc, argv, &i, help);
		if (global < 0)
			return -1;
		if (global > 0)
			continue;

		const char *eq = strchr(arg, '=');
		size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		size_t k;
		for (k = 0; cmd->options != NULL && cmd->options[k].name != NULL; k++) {
			if (strlen(cmd->options[k].name) == name_len &&
			    strncmp(cmd->options[k].name, arg, name_len) == 0)
				break;
		}
		if (cmd->options == NULL || cmd->options[k].name == NULL)
			return floectl_usage_fail(cmd, "unknown option %.*s", (int)name_len, arg);
		if (cmd->options[k].arg == NULL) {
			if (eq != NULL)
				return floectl_usage_fail(cmd, "%s takes no value",
				                          cmd->options[k].name);
			args_r->values[k] = "";
		} else if (eq != NULL) {
			args_r->values[k] = eq + 1;
		} else if (i + 1 < argc) {
			args_r->values[k] = argv[++i];
		} else {
			return floectl_usage_fail(cmd, "%s needs a value (%s)",
			                          cmd->options[k].name, cmd->options[k].arg);
		}
	}
	if (*help)
		return 0;
	if (args_r->npos < cmd->min_args) {
		const char *missing = cmd->args;

		/* name the first missing argument from the usage text */
		for (size_t n = 0; n < args_r->npos && *missing != '\0'; n++) {
			missing += strcspn(missing, " ");
			missing += strspn(missing, " ");
		}
		return floectl_usage_fail(cmd, "missing %.*s", (int)strcspn(missing, " "), missing);
	}
	if (args_r->npos > cmd->max_args)
		return floectl_usage_fail(cmd, "unexpected argument '%s'",
		                          args_r->pos[cmd->max_args]);
	return 0;
}

static int
floectl_run(int argc, char **argv)
{
	const struct floectl_command *cmd;
	struct floectl_args args;
	bool help = false;
	int i, nwords, ret;

	floectl_ctl.config_path = FLOECTL_DEFAULT_CONFIG;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("floectl %s\n", PACKAGE_VERSION);
			return 0;
		}
		int global = floectl_global_option(argc, argv, &i, &help);
		if (global < 0)
			return -1;
		if (global == 0)
			return floectl_usage_fail(NULL, "unknown option %s", argv[i]);
	}
	if (i >= argc) {
		if (help) {
			floectl_usage(stdout);
			return 0;
		}
		return floectl_usage_fail(NULL, "missing command");
	}
	if (strcmp(argv[i], "help") == 0)
		return floectl_help((const char *const *)argv + i + 1, (size_t)(argc - i - 1));

	cmd = floectl_find_command(argc, argv, i, &nwords);
	if (cmd == NULL) {
		int words = 0;

		while (i + words < argc && argv[i + words][0] != '-')
			words++;
		for (int k = i + words; !help && k < argc; k++)
			help = strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0;
		if (help && words > 0 && floectl_is_group(argv[i]))
			return floectl_help((const char *const *)argv + i, (size_t)words);
		return floectl_no_command(argc, argv, i);
	}
	const char **pos = xcalloc((size_t)argc, sizeof(char *));
	if (floectl_parse_args(cmd, argc, argv, i + nwords, pos, &args, &help) < 0) {
		free(pos);
		return -1;
	}
	if (help) {
		floectl_print_command(stdout, cmd, true);
		ret = 0;
	} else {
		ret = cmd->exec(&floectl_ctl, cmd, &args);
	}
	free(pos);
	return ret;
}

int
main(int argc, char **argv)
{
	int ret;

	log_set_role("floectl");
	log_set_level(LOG_LEVEL_WARNING);
	ret = floectl_run(argc, argv);
	if (floectl_ctl.conn != NULL)
		PQfinish(floectl_ctl.conn);
	config_free(&floectl_ctl.config);
	if (fflush(stdout) != 0 && ret == 0) {
		floectl_fail("cannot write the output: %s", strerror(errno));
		ret = -1;
	}
	if (ret == 0)
		return FLOECTL_EXIT_OK;
	return floectl_ctl.usage_error ? FLOECTL_EXIT_USAGE : FLOECTL_EXIT_ERROR;
}
