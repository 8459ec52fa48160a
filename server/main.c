/* floed: the Floe server. Parses the command line and the configuration,
 * then hands over to the master (server/master.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "tls.h"

#define DEFAULT_CONFIG SYSCONFDIR "/floe.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: floed [--config FILE] [--check] [--foreground] [--log-level LEVEL]\n"
		"\n"
		"Floe groupware server (IMAP, ActiveSync, WebDAV over PostgreSQL).\n"
		"\n"
		"  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
		"  -t, --check           validate the configuration and exit: 0 when valid,\n"
		"                        1 with one \"file:line: reason\" line per problem\n"
		"  -f, --foreground      stay in the foreground and log to stderr (unless\n"
		"                        [log] file is set); otherwise run in the background\n"
		"                        and log to [log] file or STATE_DIR/floed.log\n"
		"  -l, --log-level LEVEL debug, info, warning or error (overrides [log] level)\n"
		"      --list-keys       print every configuration key with its default\n"
		"  -V, --version         print the version\n"
		"  -h, --help            this text\n"
		"\n"
		"Signals: SIGHUP reloads the configuration (a file that does not validate is\n"
		"refused and the server keeps running); SIGTERM stops gracefully.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 't'},
		{"foreground", no_argument, NULL, 'f'},
		{"log-level", required_argument, NULL, 'l'},
		{"list-keys", no_argument, NULL, 'K'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_CONFIG, *level_arg = NULL, *error;
	struct config_errors errors = {NULL, 0};
	struct floe_config *cfg;
	bool check = false, foreground = false;
	enum log_level level;
	int c;

	while ((c = getopt_long(argc, argv, "c:tfl:Vh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 'K':
			for (const struct config_key_doc *d = config_key_docs(); d->section != NULL;
			     d++)
				printf("[%s] %s = %s\n", d->section, d->key, d->default_value);
			return 0;
		case 'V':
			printf("floed %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "floed: unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return 2;
	}

	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		for (size_t i = 0; i < errors.count; i++)
			fprintf(stderr, "%s\n", errors.lines[i]);
		config_errors_clear(&errors);
		return 1;
	}
	if (check) {
		SSL_CTX *ctx = tls_ctx_create(cfg, &error);

		if (ctx == NULL && error != NULL) {
			fprintf(stderr, "%s\n", error);
			config_free(&cfg);
			return 1;
		}
		tls_ctx_free(&ctx);
		printf("%s: configuration is valid\n", path);
		config_free(&cfg);
		return 0;
	}
	if (log_level_parse(level_arg != NULL ? level_arg : cfg->log.level, &level) < 0) {
		fprintf(stderr, "floed: unknown log level \"%s\"\n", level_arg);
		config_free(&cfg);
		return 2;
	}
	log_set_level(level);
	if (cfg->log.file[0] != '\0' && log_open_file(cfg->log.file, &error) < 0) {
		fprintf(stderr, "floed: cannot open log file %s: %s\n", cfg->log.file, error);
		config_free(&cfg);
		return 1;
	}
	return master_run(cfg, foreground);
}
