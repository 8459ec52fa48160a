/* Unit tests for the configuration parser: defaults, values, and one case
 * per class of error, each reported with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "config.h"
#include "tap.h"
#include "xmalloc.h"

/* Parses text; returns the config or NULL, and the first error in *err. */
static struct floe_config *parse(const char *text, char *err, size_t errsize, size_t *nerr)
{
	struct config_errors errors = {NULL, 0};
	struct floe_config *cfg = config_parse("test.conf", text, &errors);

	err[0] = '\0';
	if (errors.count > 0)
		snprintf(err, errsize, "%s", errors.lines[0]);
	if (nerr != NULL)
		*nerr = errors.count;
	config_errors_clear(&errors);
	return cfg;
}

/* Expects text to fail with an error containing want. */
static void expect_error(const char *text, const char *want, const char *what)
{
	char err[1024];
	struct floe_config *cfg = parse(text, err, sizeof(err), NULL);

	ok(cfg == NULL && strstr(err, want) != NULL, "%s", what);
	if (cfg != NULL || strstr(err, want) == NULL)
		printf("#   got \"%s\", want \"%s\"\n", err, want);
	config_free(&cfg);
}

#define BASE "[server]\nuser =\nstate_dir = /tmp/floe-x\n"
#define NOLISTEN                                                                                   \
	"[imap]\nlisten =\nlisten_tls =\n[http]\nlisten =\nlisten_tls =\n[smtp]\nlisten =\n"        \
	"listen_tls =\n[lmtp]\nlisten =\n[pop3]\nlisten =\nlisten_tls =\n"

static void test_defaults(void)
{
	char err[1024];
	struct floe_config *cfg = parse(BASE "[imap]\nlisten_tls =\n[http]\nlisten_tls =\n[smtp]\n"
					     "listen_tls =\n[pop3]\nlisten_tls =\n",
					err, sizeof(err), NULL);

	ok(cfg != NULL, "defaults parse (%s)", err);
	if (cfg == NULL)
		return;
	is_str(cfg->db.url, "local", "db.url defaults to local");
	is_int(cfg->db.pool_size, 4, "db.pool_size default");
	is_int(cfg->http.max_body_size, 32 * 1024 * 1024, "http.max_body_size default 32M");
	is_int(cfg->http.max_header_size, 16 * 1024, "http.max_header_size default 16k");
	is_int(cfg->http.header_timeout_ms, 30000, "header_timeout default 30s");
	ok(cfg->server.workers >= 1, "workers = auto resolves to >= 1");
	is_int(cfg->imap.listen.count, 1, "imap.listen default has one address");
	is_int(ntohs(((struct sockaddr_in *)&cfg->imap.listen.items[0].addr)->sin_port), 143,
	       "imap default port 143");
	ok(!cfg->debug.test_endpoints, "test endpoints off by default");
	config_free(&cfg);
}

static void test_values(void)
{
	char err[1024];
	struct floe_config *cfg = parse(BASE NOLISTEN "[server]\n", err, sizeof(err), NULL);

	/* A section may not repeat a key, but may appear twice. */
	ok(cfg != NULL, "section may appear twice (%s)", err);
	config_free(&cfg);

	cfg = parse("# comment\n; another\n[server]\nuser = \"\"\nstate_dir = /var/x # trailing\n"
		    "workers = 3\n[http]\nlisten = 127.0.0.1:8080, [::1]:8080 8081\nlisten_tls =\n"
		    "max_body_size = 10M\nheader_timeout = 500ms\npublic_url = "
		    "https://mail.example.com\n[db]\nurl = postgresql://u@h/db\nquery_timeout = 2m\n"
		    "[debug]\ntest_endpoints = yes\n[imap]\nlisten_tls=\n[smtp]\nlisten_tls =\n"
		    "[pop3]\nlisten_tls =\n",
		    err, sizeof(err), NULL);
	ok(cfg != NULL, "full file parses (%s)", err);
	if (cfg == NULL)
		return;
	is_str(cfg->server.state_dir, "/var/x", "trailing comment removed");
	is_str(cfg->server.user, "", "quoted empty value");
	is_int(cfg->server.workers, 3, "workers = 3");
	is_int(cfg->http.listen.count, 3, "three http addresses");
	is_int(cfg->http.listen.items[1].addr.ss_family, AF_INET6, "second is IPv6");
	is_int(ntohs(((struct sockaddr_in *)&cfg->http.listen.items[2].addr)->sin_port), 8081,
	       "bare port");
	is_int(cfg->http.listen.items[0].line, 8, "listen line recorded");
	is_int(cfg->http.max_body_size, 10 * 1024 * 1024, "10M");
	is_int(cfg->http.header_timeout_ms, 500, "500ms");
	is_int(cfg->db.query_timeout_ms, 120000, "2m");
	ok(cfg->debug.test_endpoints, "yes is true");
	config_free(&cfg);
}

static void test_errors(void)
{
	expect_error(BASE "[imap]\nlisten_tls=\n[http]\nlisten_tls =\n[smtp]\nlisten_tls =\n"
			  "[pop3]\nlisten_tls =\n[nonsense]\nx = 1\n",
		     "test.conf:12: unknown section [nonsense]", "unknown section with line");
	expect_error(BASE NOLISTEN "[server]\nwrokers = 2\n",
		     "test.conf:19: unknown key \"wrokers\" in [server]", "unknown key with line");
	expect_error(BASE NOLISTEN "[eas]\nprovision_status = maybe\n",
		     "test.conf:19: eas.provision_status = \"maybe\": expected one of 449,status,both",
		     "choice keys accept only their values");
	expect_error(BASE NOLISTEN "[server]\nworkers = lots\n", "test.conf:19: server.workers",
		     "bad number");
	expect_error(BASE NOLISTEN "[server]\nworkers = 0\n", "from 1 to 256", "workers range");
	expect_error(BASE NOLISTEN "[http]\nmax_body_size = 10X\n",
		     "test.conf:19: http.max_body_size = \"10X\": expected a size", "bad size");
	expect_error(BASE NOLISTEN "[http]\nheader_timeout = soon\n", "expected a duration",
		     "bad duration");
	expect_error(BASE NOLISTEN "[debug]\ntest_endpoints = maybe\n", "expected yes or no",
		     "bad boolean");
	expect_error(BASE NOLISTEN "[log]\nlevel = loud\n", "expected debug, info", "bad level");
	expect_error(BASE NOLISTEN "[db]\nurl = mysql:x\n", "test.conf:19: db.url",
		     "bad database url");
	expect_error(BASE NOLISTEN "[http]\npublic_url = ftp://x\n", "http:// or https://",
		     "bad public url");
	expect_error(BASE "[imap]\nlisten = 127.0.0.1:99999\n", "test.conf:5: imap.listen",
		     "port out of range");
	expect_error(BASE "[imap]\nlisten = mail.example.com:143\n", "bad listen address",
		     "host names are refused");
	expect_error(BASE NOLISTEN "[server]\nworkers 2\n", "test.conf:19: expected \"key = value\"",
		     "missing =");
	expect_error("workers = 2\n", "test.conf:1: key \"workers\" outside any [section]",
		     "key outside section");
	expect_error(BASE NOLISTEN "[server\n", "test.conf:18: malformed section header",
		     "malformed section header");
	expect_error(BASE NOLISTEN "[log]\nlevel = info\nlevel = debug\n",
		     "test.conf:20: log.level set twice (first at line 19)", "duplicate key");
	expect_error("[server]\nuser =\nstate_dir = /x\n" NOLISTEN "[imap]\nlisten =\n",
		     "test.conf:19: imap.listen set twice (first at line 5)",
		     "duplicate key across a repeated section");
	expect_error(BASE "[imap]\nlisten_tls = 127.0.0.1:993\nlisten =\n[http]\nlisten =\n"
			  "listen_tls =\n[smtp]\nlisten =\nlisten_tls =\n[lmtp]\nlisten =\n[pop3]\nlisten =\n"
			  "listen_tls =\n",
		     "test.conf:5: imap.listen_tls = 127.0.0.1:993 needs a certificate",
		     "TLS listener without certificate");
	expect_error(BASE "[imap]\nlisten = 127.0.0.1:1143\nlisten_tls =\n[http]\nlisten = "
			  "127.0.0.1:1143\nlisten_tls =\n[smtp]\nlisten =\nlisten_tls =\n",
		     "test.conf:8: http.listen = 127.0.0.1:1143: address already used by "
		     "imap.listen (line 5)",
		     "address used twice");
	expect_error("[server]\nuser = no-such-user-floe\nstate_dir = /x\n" NOLISTEN,
		     "test.conf:2: [server] user \"no-such-user-floe\" does not exist",
		     "unknown user");
	expect_error(BASE NOLISTEN "[tls]\ncert = /nonexistent/cert.pem\nkey = /nonexistent/k\n",
		     "test.conf:19: [tls] cert /nonexistent/cert.pem", "unreadable certificate");
	expect_error(BASE NOLISTEN "[tls]\ncert = /etc/hostname\n",
		     "[tls] cert and key must be set together", "cert without key");
	expect_error("[server]\nuser =\nstate_dir = relative/dir\n" NOLISTEN,
		     "state_dir must be an absolute path", "relative state_dir");
}

static void test_multiple_errors(void)
{
	char err[1024];
	size_t n = 0;
	struct floe_config *cfg = parse(BASE NOLISTEN "[server]\nfoo = 1\nbar = 2\n[x]\n", err,
					sizeof(err), &n);

	ok(cfg == NULL && n == 3, "every error is reported in one pass (got %zu)", n);
	config_free(&cfg);
}

static void test_parsers(void)
{
	size_t size;
	unsigned ms;

	ok(config_parse_size("512k", &size) == 0 && size == 512 * 1024, "512k");
	ok(config_parse_size("1G", &size) == 0 && size == 1024UL * 1024 * 1024, "1G");
	ok(config_parse_size("100", &size) == 0 && size == 100, "bare bytes");
	ok(config_parse_size("-1", &size) < 0, "negative size refused");
	ok(config_parse_size("99999999999999999999", &size) < 0, "overflow refused");
	ok(config_parse_duration_ms("30", &ms) == 0 && ms == 30000, "bare seconds");
	ok(config_parse_duration_ms("1h", &ms) == 0 && ms == 3600000, "1h");
	ok(config_parse_duration_ms("99999999h", &ms) < 0, "duration overflow refused");
}

/* Every key the parser knows is documented in etc/floe.conf, with the same
 * default, and that file itself parses. */
static void test_documented(void)
{
	const char *srcdir = getenv("FLOE_SRCDIR");
	char *path = xasprintf("%s/etc/floe.conf", srcdir != NULL ? srcdir : ".");
	FILE *f = fopen(path, "r");
	static char text[65536];
	size_t n;
	unsigned missing = 0;

	ok(f != NULL, "etc/floe.conf readable at %s", path);
	if (f == NULL) {
		free(path);
		return;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	for (const struct config_key_doc *d = config_key_docs(); d->section != NULL; d++) {
		char *sect = xasprintf("\n[%s]\n", d->section);
		char *line = xasprintf("\n%s = %s\n", d->key, d->default_value);
		char *line_empty = xasprintf("\n%s =\n", d->key);
		const char *s = strstr(text, sect);
		const char *next = s != NULL ? strstr(s + 1, "\n[") : NULL;
		const char *hit = s != NULL ? strstr(s, d->default_value[0] != '\0' ? line : line_empty)
					    : NULL;

		if (hit == NULL || (next != NULL && hit > next)) {
			printf("#   [%s] %s = %s is not documented with its default\n", d->section,
			       d->key, d->default_value);
			missing++;
		}
		free(sect);
		free(line);
		free(line_empty);
	}
	is_int(missing, 0, "every key documented in etc/floe.conf with its default");
	free(path);
}

int main(void)
{
	test_defaults();
	test_values();
	test_errors();
	test_multiple_errors();
	test_parsers();
	test_documented();
	return done_testing();
}
