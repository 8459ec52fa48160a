/* The per-device ActiveSync protocol log in IceWarp's style: one file per
 * device under <state_dir>/eas-log/ (<devices.id>.log, appended with
 * O_APPEND like server/log.c), each entry headed by the device hash, the
 * account, the request number and the time, then "<<< Command" with the
 * request decoded to XML, or ">>> status" with the response. Passwords,
 * MIME and bodies are elided unless [eas] log_bodies is on. Switched on per
 * device (devices.protocol_log) or per account (eas_accounts). */
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "eas-private.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

char *
eas_log_path(const struct eas_server *server, uint64_t device_row_id)
{
	return xasprintf("%s/%" PRIu64 ".log", server->log_dir, device_row_id);
}

void
eas_log_device_hash(struct eas_req *r)
{
	unsigned char h[16];
	char *key = xasprintf("%" PRIu64 ":%s", r->pub.account_id, r->device_id);

	crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), NULL, 0);
	free(key);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(r->device_hash + 2 * i, 3, "%02x", h[i]);
}

/* Appends the buffer's contents to the device's file. */
static void
eas_log_write(struct eas_req *r, struct evbuffer *text)
{
	struct eas_server *s = r->server;
	char *path = eas_log_path(s, r->dev.id);
	size_t len = evbuffer_get_length(text);
	const char *data = (const char *)evbuffer_pullup(text, -1);
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT) {
		(void)mkdir(s->log_dir, 0750);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	}
	if (fd < 0) {
		if (!s->log_dir_warned)
			log_warning("eas: protocol log %s: %s", path, strerror(errno));
		s->log_dir_warned = true;
		free(path);
		return;
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		data += n;
		len -= (size_t)n;
	}
	close(fd);
	free(path);
}

static void
eas_log_head(struct eas_req *r, struct evbuffer *out)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	evbuffer_add_printf(out, "%s [%s] [%04u] %s ", r->device_hash,
	                    r->pub.address != NULL ? r->pub.address : "-", r->seq % 10000, when);
}

static unsigned
eas_log_flags(const struct eas_req *r)
{
	return WBXML_XML_INDENT | (r->server->cfg->eas.log_bodies ? 0 : WBXML_XML_ELIDE);
}

void
eas_log_request(struct eas_req *r)
{
	struct evbuffer *out = evbuffer_new();
	struct evbuffer *raw = r->pub.raw_body;
	size_t len = raw != NULL ? evbuffer_get_length(raw) : 0;

	eas_log_head(r, out);
	evbuffer_add_printf(out, "<<< %s (%s)\n", r->pub.cmd, eas_version_text(r->pub.version));
	if (r->pub.body != NULL) {
		wbxml_to_xml(r->pub.body, eas_log_flags(r), out);
	} else if (len > 0 && r->server->cfg->eas.log_bodies &&
	           strncasecmp(r->pub.content_type, "message/rfc822", 14) == 0) {
		evbuffer_add(out, evbuffer_pullup(raw, -1), len);
	} else if (len > 0) {
		evbuffer_add_printf(out, "[%s body, %zu bytes%s]", r->pub.content_type, len,
		                    r->doc == NULL && r->command != NULL && r->command->wbxml_body
		                        ? ", not decoded"
		                        : " elided");
	}
	evbuffer_add(out, "\n\n", 2);
	eas_log_write(r, out);
	evbuffer_free(out);
}

void
eas_log_response(struct eas_req *r, int http_status, const char *content_type,
                 struct evbuffer *body)
{
	struct evbuffer *out = evbuffer_new();
	size_t len = body != NULL ? evbuffer_get_length(body) : 0;

	eas_log_head(r, out);
	evbuffer_add_printf(out, ">>> %d %s\n", http_status, http_status_reason(http_status));
	if (len > 0 && content_type != NULL &&
	    strcmp(content_type, "application/vnd.ms-sync.wbxml") == 0) {
		struct wbxml_doc *doc;
		const char *error;

		if (wbxml_decode(evbuffer_pullup(body, -1), len, &doc, &error) == 0) {
			wbxml_to_xml(wbxml_doc_root(doc), eas_log_flags(r), out);
			wbxml_doc_free(&doc);
		} else {
			evbuffer_add_printf(out, "[response not decodable: %s]", error);
		}
	} else if (len > 0 && content_type != NULL && strncmp(content_type, "text/", 5) == 0) {
		evbuffer_add(out, evbuffer_pullup(body, -1), len);
	} else if (len > 0) {
		evbuffer_add_printf(out, "[%s body, %zu bytes]", content_type, len);
	}
	evbuffer_add(out, "\n\n", 2);
	eas_log_write(r, out);
	evbuffer_free(out);
}

void
eas_log_text(struct eas_req *r, const char *text)
{
	struct evbuffer *out = evbuffer_new();

	eas_log_head(r, out);
	evbuffer_add_printf(out, "--- %s\n\n", text);
	eas_log_write(r, out);
	evbuffer_free(out);
}
