/* Share notification mail (share-notice.h): the message itself, and the
 * per-worker runner that claims queued notices, mails them into the
 * grantees' INBOXes exactly once and retries or drops the ones that
 * cannot be delivered. */
#include "share-notice.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>

#include "acl.h"
#include "base64.h"
#include "config.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "store-share.h"
#include "xmalloc.h"

/* Notices claimed at once, and how long a runner owns them. */
#define SN_BATCH    16
#define SN_LEASE_MS 60000
/* Back-off after a failed delivery: doubled per attempt, at most the max. */
#define SN_RETRY_MIN_MS 30000u
#define SN_RETRY_MAX_MS 3600000u
/* Encoded words: at most this many bytes of text each (75 characters). */
#define SN_WORD_BYTES 45

/* ---------------------------------------------------------------------
 * The message
 */

struct sn_buf {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) sn_addf(struct sn_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *text;
	size_t n;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	n = strlen(text);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, text, n + 1);
	b->len += n;
	free(text);
}

static bool
sn_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

/* A copy without control characters (a display name cannot break a
 * header line). */
static char *
sn_clean(const char *s)
{
	char *copy = xstrdup(s != NULL ? s : "");

	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	return copy;
}

/* The length of the longest prefix of s of at most max bytes that ends on
 * a UTF-8 character boundary (at least one character). */
static size_t
sn_utf8_prefix(const char *s, size_t max)
{
	size_t len = strlen(s), n;

	if (len <= max)
		return len;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (n == 0) {
		n = 1;
		while (((unsigned char)s[n] & 0xc0) == 0x80)
			n++;
	}
	return n;
}

/* text as RFC 2047 encoded words (UTF-8, base64), folded between them. */
static void
sn_add_encoded(struct sn_buf *b, const char *text)
{
	bool first = true;

	while (*text != '\0') {
		size_t n = sn_utf8_prefix(text, SN_WORD_BYTES);
		char word[BASE64_ENCODED_LEN(SN_WORD_BYTES * 2) + 1], *end;

		end = base64_encode_into(word, text, n);
		*end = '\0';
		sn_addf(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", word);
		first = false;
		text += n;
	}
}

/* An unstructured header value: as it is when short ASCII, else encoded. */
static void
sn_add_text(struct sn_buf *b, const char *text)
{
	if (sn_ascii(text) && strlen(text) < 900)
		sn_addf(b, "%s", text);
	else
		sn_add_encoded(b, text);
}

/* "Display Name" <address>, or the address alone. */
static void
sn_add_mailbox(struct sn_buf *b, const char *name, const char *address)
{
	char *clean = sn_clean(name);

	if (clean[0] == '\0') {
		sn_addf(b, "<%s>", address);
	} else if (sn_ascii(clean) && strlen(clean) < 200) {
		sn_addf(b, "\"");
		for (const char *p = clean; *p != '\0'; p++)
			sn_addf(b, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
		sn_addf(b, "\" <%s>", address);
	} else {
		sn_add_encoded(b, clean);
		sn_addf(b, " <%s>", address);
	}
	free(clean);
}

char *
share_notice_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* The rights as the clients name them ("Read, Write"), or NULL when no
 * name covers them; the caller frees. */
static char *
sn_rights_names(const char *letters)
{
	const char *names[8];
	struct sn_buf b = {0};
	unsigned rights = 0;
	const char *error;
	size_t n;

	if (acl_rights_parse(letters, strlen(letters), &rights, &error) < 0 || rights == 0)
		return NULL;
	n = acl_rights_client_names(rights, names, 8);
	for (size_t i = 0; i < n; i++)
		sn_addf(&b, "%s%s", i > 0 ? ", " : "", names[i]);
	return b.s;
}

static const char *
sn_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : "localhost";
}

/* The header X-IceWarp-Server-Request and Floe's own. */
static void
sn_add_machine_headers(struct sn_buf *b, const struct share_notice_mail *m, const char *folder_enc,
                       const char *names)
{
	const char *method = m->unshare ? "unshare" : "share";

	sn_addf(b, "X-IceWarp-Server-Request: method=%s; user=%s;%sfolder=%s; right=%s\r\n", method,
	        m->owner, strlen(folder_enc) > 800 ? "\r\n " : " ", folder_enc, m->rights);
	sn_addf(b, "X-Floe-Share-Method: %s\r\n", method);
	sn_addf(b, "X-Floe-Share-Owner: %s\r\n", m->owner);
	sn_addf(b, "X-Floe-Share-Folder: %s\r\n", folder_enc);
	if (m->folder != NULL)
		sn_addf(b, "X-Floe-Share-Mailbox: ~%s/%s\r\n", m->owner, folder_enc);
	else
		sn_addf(b, "X-Floe-Share-Mailbox: ~%s\r\n", m->owner);
	sn_addf(b, "X-Floe-Share-Rights: %s\r\n", m->rights);
	if (names != NULL)
		sn_addf(b, "X-Floe-Share-Access: %s\r\n", names);
}

/* The text: one paragraph per line, so that the clients' button names and
 * the mailbox names are never broken. who is "Name <address>" or the
 * address. */
static void
sn_add_body(struct sn_buf *b, const struct share_notice_mail *m, const char *who, const char *names)
{
	char *what = m->folder != NULL ? xasprintf("the folder \"%s\"", m->folder)
	                               : xstrdup("the whole account");
	char *mailbox = m->folder != NULL ? xasprintf("~%s/%s", m->owner, m->folder)
	                                  : xasprintf("~%s", m->owner);

	if (m->unshare) {
		sn_addf(b, "%s no longer shares %s with you.\r\n\r\n", who, what);
		sn_addf(b, "You have no access to it any more, and it is no longer shown in your "
		           "folder list.\r\n");
		goto out;
	}
	sn_addf(b, "%s has shared %s with you.\r\n\r\n", who, what);
	if (names != NULL)
		sn_addf(b, "Your rights: %s (RFC 4314: %s)\r\n\r\n", names, m->rights);
	else
		sn_addf(b, "Your rights (RFC 4314): %s\r\n\r\n", m->rights);
	if (m->folder != NULL) {
		sn_addf(b, "To see the folder in your folder list, subscribe to it.\r\n\r\n");
		sn_addf(b,
		        "In Outlook with IceWarp Outlook Sync: open this message and choose "
		        "\"Subscribe folder\" (or \"Subscribe account\" to also see every folder "
		        "%s shares with you later).\r\n\r\n",
		        m->owner);
		sn_addf(b,
		        "In other IMAP clients: subscribe to the folder \"%s\" (or to \"~%s\" "
		        "for the whole account).\r\n",
		        mailbox, m->owner);
	} else {
		sn_addf(
		    b, "To see its folders in your folder list, subscribe to the account.\r\n\r\n");
		sn_addf(b, "In Outlook with IceWarp Outlook Sync: open this message and choose "
		           "\"Subscribe account\".\r\n\r\n");
		sn_addf(b, "In other IMAP clients: subscribe to \"%s\".\r\n", mailbox);
	}
out:
	free(what);
	free(mailbox);
}

char *
share_notice_compose(const struct share_notice_mail *m, size_t *size_r)
{
	struct sn_buf b = {0};
	char *owner_name = sn_clean(m->owner_name), *folder = NULL, *folder_enc, *names, *subject;
	/* The subject names the owner by name; the text adds the address. */
	const char *who = owner_name[0] != '\0' ? owner_name : m->owner;
	char *who_full =
	    owner_name[0] != '\0' ? xasprintf("%s <%s>", owner_name, m->owner) : xstrdup(m->owner);
	struct share_notice_mail mm = *m;
	char date[64];
	struct tm tm;

	if (m->folder != NULL) {
		folder = sn_clean(m->folder);
		mm.folder = folder;
	}
	folder_enc = mm.folder != NULL ? share_notice_url_encode(mm.folder) : xstrdup("*");
	names = mm.unshare ? NULL : sn_rights_names(mm.rights);
	gmtime_r(&m->date, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	sn_addf(&b, "Date: %s\r\n", date);
	sn_addf(&b, "From: ");
	sn_add_mailbox(&b, mm.owner_name, mm.owner);
	sn_addf(&b, "\r\nTo: ");
	sn_add_mailbox(&b, mm.grantee_name, mm.grantee);
	if (mm.unshare)
		subject =
		    mm.folder != NULL
		        ? xasprintf("%s stopped sharing the folder \"%s\" with you", who, mm.folder)
		        : xasprintf("%s stopped sharing the whole account with you", who);
	else
		subject = mm.folder != NULL
		              ? xasprintf("%s shared the folder \"%s\" with you", who, mm.folder)
		              : xasprintf("%s shared the whole account with you", who);
	sn_addf(&b, "\r\nSubject: ");
	sn_add_text(&b, subject);
	if (mm.message_id != NULL)
		sn_addf(&b, "\r\nMessage-ID: <%s>\r\n", mm.message_id);
	else
		sn_addf(&b, "\r\nMessage-ID: <share.%lld@%s>\r\n", (long long)m->date,
		        sn_domain(mm.owner));
	sn_addf(&b, "MIME-Version: 1.0\r\n");
	sn_addf(&b, "Content-Type: text/plain; charset=utf-8\r\n");
	sn_addf(&b, "Content-Transfer-Encoding: %s\r\n",
	        sn_ascii(who) && (mm.folder == NULL || sn_ascii(mm.folder)) ? "7bit" : "8bit");
	sn_addf(&b, "Auto-Submitted: auto-generated\r\n");
	sn_add_machine_headers(&b, &mm, folder_enc, names);
	sn_addf(&b, "\r\n");
	sn_add_body(&b, &mm, who_full, names);
	free(who_full);
	free(subject);
	free(names);
	free(folder_enc);
	free(folder);
	free(owner_name);
	*size_r = b.len;
	return b.s;
}

/* ---------------------------------------------------------------------
 * The runner
 */

struct sn_job {
	struct share_notices *sn;
	LIST_ENTRY(sn_job) entry;
	struct store_op *op;
	uint64_t id, account_id;
	char *address;
	time_t created;
	unsigned attempts;
};

struct share_notices {
	struct event_base *base;
	const struct floe_config *cfg;
	struct store *store;
	struct notify_watch *watch;
	struct event *timer, *kick;
	struct store_op *claim_op;
	LIST_HEAD(, sn_job) jobs;
	bool again; /* look again once the jobs in flight are done */
	bool claim_failing;
	char runner[300];
};

static void sn_run(struct share_notices *sn);

static void
sn_arm(struct event *ev, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

static void
sn_kick(struct share_notices *sn, unsigned ms)
{
	sn_arm(sn->kick, ms);
}

static void
sn_job_free(struct sn_job *job)
{
	struct share_notices *sn = job->sn;

	store_op_abandon(&job->op);
	LIST_REMOVE(job, entry);
	free(job->address);
	free(job);
	if (LIST_EMPTY(&sn->jobs) && sn->again) {
		sn->again = false;
		sn_kick(sn, 0);
	}
}

static void
sn_job_finished(enum store_err code, const char *error, void *ctx)
{
	struct sn_job *job = ctx;

	job->op = NULL;
	if (code != STORE_OK)
		log_warning("share notice %llu: %s", (unsigned long long)job->id, error);
	sn_job_free(job);
}

static unsigned
sn_retry_delay(unsigned attempts)
{
	uint64_t d = SN_RETRY_MIN_MS;

	for (unsigned i = 1; i < attempts && d < SN_RETRY_MAX_MS; i++)
		d *= 2;
	return d > SN_RETRY_MAX_MS ? SN_RETRY_MAX_MS : (unsigned)d;
}

static void
sn_delivered(bool delivered, uint32_t uid, enum store_err code, const char *error, void *ctx)
{
	struct sn_job *job = ctx;
	struct share_notices *sn = job->sn;
	time_t age = time(NULL) - job->created;

	job->op = NULL;
	if (code == STORE_OK) {
		if (delivered)
			log_info("share notice %llu mailed to %s (INBOX uid %u)",
			         (unsigned long long)job->id, job->address, uid);
		sn_job_free(job);
		return;
	}
	if (age >= 0 && (uint64_t)age * 1000 >= sn->cfg->sharing.notify_max_age_ms) {
		log_warning("share notice %llu for %s dropped after %u attempt(s): %s",
		            (unsigned long long)job->id, job->address, job->attempts, error);
		job->op = store_share_notice_drop(sn->store, job->id, job->account_id,
		                                  sn_job_finished, job);
		return;
	}
	log_warning("share notice %llu for %s not delivered (attempt %u), retrying: %s",
	            (unsigned long long)job->id, job->address, job->attempts, error);
	job->op =
	    store_share_notice_retry(sn->store, job->id, job->account_id,
	                             sn_retry_delay(job->attempts), error, sn_job_finished, job);
}

static void
sn_job_start(struct share_notices *sn, const struct store_share_notice *n)
{
	struct sn_job *job = xcalloc(1, sizeof(*job));
	struct share_notice_mail m = {
	    .owner = n->owner,
	    .owner_name = n->owner_name,
	    .grantee = n->address,
	    .grantee_name = n->name,
	    .folder = n->folder,
	    .unshare = n->unshare,
	    .rights = n->rights,
	    .date = n->created,
	};
	struct message_info info;
	const char *error;
	char *data, *msgid;
	size_t size;

	job->sn = sn;
	job->id = n->id;
	job->account_id = n->account_id;
	job->address = xstrdup(n->address);
	job->created = n->created;
	job->attempts = n->attempts;
	LIST_INSERT_HEAD(&sn->jobs, job, entry);
	if (!sn->cfg->sharing.notify) {
		log_debug("share notice %llu for %s dropped ([sharing] notify = no)",
		          (unsigned long long)n->id, n->address);
		job->op =
		    store_share_notice_drop(sn->store, n->id, n->account_id, sn_job_finished, job);
		return;
	}
	/* The same Message-ID whichever runner writes it. */
	msgid = xasprintf("share.%llu.%lld@%s", (unsigned long long)n->id, (long long)n->created,
	                  sn_domain(n->owner));
	m.message_id = msgid;
	data = share_notice_compose(&m, &size);
	if (message_parse(data, size, &info, &error) == 0) {
		job->op = store_share_notice_deliver(sn->store, n, data, size, &info.meta,
		                                     sn_delivered, job);
		message_info_clear(&info);
	} else {
		job->op =
		    store_share_notice_deliver(sn->store, n, data, size, NULL, sn_delivered, job);
	}
	free(data);
	free(msgid);
}

static void
sn_claimed(const struct store_share_notice *notices, size_t count, const char *error, void *ctx)
{
	struct share_notices *sn = ctx;

	sn->claim_op = NULL;
	if (notices == NULL) {
		if (!sn->claim_failing)
			log_warning("share notices: cannot look for notices to mail: %s", error);
		sn->claim_failing = true;
		/* The database may just be starting: look again soon. */
		sn_kick(sn, sn->cfg->sharing.notify_poll_ms < 1000 ? sn->cfg->sharing.notify_poll_ms
		                                                   : 1000);
		return;
	}
	if (sn->claim_failing)
		log_info("share notices: looking for notices again");
	sn->claim_failing = false;
	for (size_t i = 0; i < count; i++)
		sn_job_start(sn, &notices[i]);
	/* A batch holds one notice per grantee (the oldest): look again once
	 * it is done, for the next ones. */
	if (count > 0)
		sn->again = true;
	if (LIST_EMPTY(&sn->jobs) && sn->again) {
		sn->again = false;
		sn_kick(sn, 0);
	}
}

static void
sn_run(struct share_notices *sn)
{
	if (sn->claim_op != NULL || !LIST_EMPTY(&sn->jobs)) {
		sn->again = true;
		return;
	}
	sn->claim_op =
	    store_share_notice_claim(sn->store, sn->runner, SN_BATCH, SN_LEASE_MS, sn_claimed, sn);
}

static void
sn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sn_run(arg);
}

static void
sn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct share_notices *sn = arg;
	unsigned ms = sn->cfg->sharing.notify_poll_ms > 0 ? sn->cfg->sharing.notify_poll_ms : 10000;

	(void)fd;
	(void)what;
	sn_arm(sn->timer, ms);
	sn_run(sn);
}

/* A grant committed somewhere (or the bus reconnected: possibly). */
static void
sn_wake(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	struct share_notices *sn = ctx;

	(void)account_id;
	(void)folder_id;
	(void)modseq;
	(void)possibly;
	sn_kick(sn, 0);
}

struct share_notices *
share_notices_create(struct event_base *base, const struct floe_config *cfg, struct store *store,
                     struct notify_bus *bus)
{
	struct share_notices *sn = xcalloc(1, sizeof(*sn));
	char host[256];

	sn->base = base;
	sn->cfg = cfg;
	sn->store = store;
	LIST_INIT(&sn->jobs);
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(sn->runner, sizeof(sn->runner), "%s:%ld", host, (long)getpid());
	sn->timer = evtimer_new(base, sn_timer_cb, sn);
	sn->kick = evtimer_new(base, sn_kick_cb, sn);
	if (bus != NULL)
		sn->watch = notify_watch_add(bus, 0, STORE_SHARE_NOTICE_WAKE, sn_wake, sn);
	/* The timer's first run looks at once, then every notify_poll. */
	sn_arm(sn->timer, 0);
	return sn;
}

void
share_notices_destroy(struct share_notices **snp)
{
	struct share_notices *sn = *snp;

	if (sn == NULL)
		return;
	store_op_abandon(&sn->claim_op);
	sn->again = false;
	while (!LIST_EMPTY(&sn->jobs))
		sn_job_free(LIST_FIRST(&sn->jobs));
	notify_watch_remove(&sn->watch);
	event_free(sn->timer);
	event_free(sn->kick);
	free(sn);
	*snp = NULL;
}
