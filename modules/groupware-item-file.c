/* File items in the Kolab-style MIME form (groupware-item.h): choosing the
 * one file part, checking the UID and the file name, and decoding the file
 * (base64, quoted-printable or as is) in pieces, strictly enough to refuse
 * a body that does not decode, measuring and hashing it on the way. */
#include "groupware-item.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "groupware-item-private.h"
#include "base64.h"
#include "xmalloc.h"

#define READ_CHUNK  65536
#define OUT_CHUNK   16384
#define QP_WS_MAX   998
#define MAX_DEPTH   16
#define FILE_LABEL  "application/x-vnd.kolab.file"
#define SUBJECT_MAX GROUPWARE_FILE_UID_MAX

/* --- Names --- */

/* Valid UTF-8 without C0, DEL or C1 control characters. */
static bool
clean_utf8(const char *s, bool *control_r)
{
	const char *end;

	*control_r = false;
	if (!g_utf8_validate(s, -1, &end))
		return false;
	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			*control_r = true;
	}
	return true;
}

int
groupware_file_name_check(const char *name, const char **error_r)
{
	bool control;

	if (name == NULL || name[0] == '\0') {
		*error_r = "the file name is empty";
		return -1;
	}
	if (strlen(name) > GROUPWARE_FILE_NAME_MAX) {
		*error_r = "the file name is longer than 255 bytes";
		return -1;
	}
	if (!clean_utf8(name, &control)) {
		*error_r = "the file name is not valid UTF-8";
		return -1;
	}
	if (control) {
		*error_r = "the file name contains control characters";
		return -1;
	}
	if (strchr(name, '/') != NULL) {
		*error_r = "the file name contains '/'";
		return -1;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*error_r = "the file name cannot be \".\" or \"..\"";
		return -1;
	}
	return 0;
}

/* The UID from the decoded Subject, trimmed; NULL with *error_r. */
static char *
subject_uid(GMimeMessage *msg, const char **error_r)
{
	const char *subject = g_mime_message_get_subject(msg);
	bool control;
	char *uid;

	if (subject == NULL) {
		*error_r = "no Subject (a file item's Subject is its UID)";
		return NULL;
	}
	uid = g_strstrip(g_strdup(subject));
	if (uid[0] == '\0')
		*error_r = "the Subject (the file's UID) is empty";
	else if (!clean_utf8(uid, &control))
		*error_r = "the Subject (the file's UID) is not valid UTF-8";
	else if (control)
		*error_r = "the Subject (the file's UID) contains control characters";
	else if (strlen(uid) > SUBJECT_MAX)
		*error_r = "the Subject (the file's UID) is longer than 255 bytes";
	else {
		char *ret = xstrdup(uid);

		g_free(uid);
		return ret;
	}
	g_free(uid);
	return NULL;
}

/* --- Choosing the file part --- */

struct file_walk {
	GMimePart *file;
	size_t nfiles;
};

static void
walk_files(GMimeObject *obj, struct file_walk *w, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			walk_files(g_mime_multipart_get_part(mp, i), w, depth + 1);
		return;
	}
	if (g_mime_content_type_is_type(g_mime_object_get_content_type(obj), "application",
	                                "vnd.kolab+xml"))
		return;
	if (GMIME_IS_PART(obj)) {
		if (groupware_is_attachment(GMIME_PART(obj)) && w->nfiles++ == 0)
			w->file = GMIME_PART(obj);
		return;
	}
	/* An attached message is one part, not looked into; attached, it
	 * counts as a (wrong) file part. */
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);

		if (cd != NULL && g_mime_content_disposition_is_attachment(cd))
			w->nfiles++;
	}
}

/* --- Decoding --- */

enum file_enc { ENC_IDENTITY, ENC_BASE64, ENC_QP };

struct file_decoder {
	enum file_enc enc;
	groupware_file_write_fn *write;
	void *ctx;
	crypto_hash_sha256_state sha;
	uint64_t size;
	const char *error;
	unsigned char out[OUT_CHUNK];
	size_t nout;
	struct base64_stream b64;
	/* quoted-printable */
	int qp_state; /* 0 text, 1 after '=', 2 after '=' and a hex digit, 3 soft break */
	unsigned qp_hi;
	bool qp_cr;                  /* a CR waits for its LF */
	unsigned char ws[QP_WS_MAX]; /* blanks that may end a line */
	size_t nws;
};

static int
dec_flush(struct file_decoder *d)
{
	if (d->nout == 0)
		return 0;
	crypto_hash_sha256_update(&d->sha, d->out, d->nout);
	d->size += d->nout;
	if (d->write != NULL && d->write(d->out, d->nout, d->ctx) < 0) {
		d->error = "the file could not be written";
		d->nout = 0;
		return -1;
	}
	d->nout = 0;
	return 0;
}

static int
dec_put(struct file_decoder *d, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = sizeof(d->out) - d->nout < len ? sizeof(d->out) - d->nout : len;

		memcpy(d->out + d->nout, p, n);
		d->nout += n;
		p += n;
		len -= n;
		if (d->nout == sizeof(d->out) && dec_flush(d) < 0)
			return -1;
	}
	return 0;
}

static const char *
b64_error(enum base64_error error)
{
	switch (error) {
	case BASE64_BAD_CHAR:
		return "invalid character in the base64 file part";
	case BASE64_AFTER_PAD:
		return "data after the padding of the base64 file part";
	case BASE64_BAD_PAD:
		return "misplaced '=' in the base64 file part";
	default:
		return "the base64 file part is truncated";
	}
}

static int
b64_feed(struct file_decoder *d, const unsigned char *p, size_t len)
{
	unsigned char out[BASE64_DECODED_MAX(1024)];
	enum base64_error error;

	while (len > 0) {
		size_t n = len < 1024 ? len : 1024;
		long got = base64_stream_feed(&d->b64, (const char *)p, n, out, &error);

		if (got < 0) {
			d->error = b64_error(error);
			return -1;
		}
		if (dec_put(d, out, (size_t)got) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int
b64_end(struct file_decoder *d)
{
	enum base64_error error;

	if (base64_stream_end(&d->b64, &error) < 0) {
		d->error = b64_error(error);
		return -1;
	}
	return 0;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Blanks before a line break are transport padding (RFC 2045 6.7 (3)):
 * they are held until it is known whether the line goes on. */
static int
qp_blanks_out(struct file_decoder *d)
{
	int ret = dec_put(d, d->ws, d->nws);

	d->nws = 0;
	return ret;
}

static int
qp_feed(struct file_decoder *d, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		int v;

		switch (d->qp_state) {
		case 1: /* after '=' */
			if ((v = hex_value(c)) >= 0) {
				d->qp_hi = (unsigned)v;
				d->qp_state = 2;
			} else if (c == ' ' || c == '\t' || c == '\r') {
				d->qp_state = 3;
			} else if (c == '\n') {
				d->qp_state = 0;
			} else {
				d->error = "invalid '=' escape in the quoted-printable file part";
				return -1;
			}
			continue;
		case 2:
			if ((v = hex_value(c)) < 0) {
				d->error = "invalid '=' escape in the quoted-printable file part";
				return -1;
			}
			{
				unsigned char b = (unsigned char)(d->qp_hi << 4 | (unsigned)v);

				if (dec_put(d, &b, 1) < 0)
					return -1;
			}
			d->qp_state = 0;
			continue;
		case 3: /* a soft line break, blanks after the '=' allowed */
			if (c == '\n')
				d->qp_state = 0;
			else if (c != ' ' && c != '\t' && c != '\r') {
				d->error = "invalid '=' escape in the quoted-printable file part";
				return -1;
			}
			continue;
		default:
			break;
		}
		bool was_cr = d->qp_cr;

		if (was_cr && c != '\n') {
			/* A lone CR is data. */
			if (qp_blanks_out(d) < 0 || dec_put(d, "\r", 1) < 0)
				return -1;
		}
		d->qp_cr = false;
		if (c == '\r') {
			d->qp_cr = true;
		} else if (c == '\n') {
			/* A hard line break: the blanks before it go. */
			d->nws = 0;
			if (dec_put(d, was_cr ? "\r\n" : "\n", was_cr ? 2 : 1) < 0)
				return -1;
		} else if (c == ' ' || c == '\t') {
			if (d->nws == sizeof(d->ws)) {
				d->error = "a quoted-printable line is too long";
				return -1;
			}
			d->ws[d->nws++] = c;
		} else if (c == '=') {
			if (qp_blanks_out(d) < 0)
				return -1;
			d->qp_state = 1;
		} else {
			if (qp_blanks_out(d) < 0 || dec_put(d, &c, 1) < 0)
				return -1;
		}
	}
	return 0;
}

static int
qp_end(struct file_decoder *d)
{
	if (d->qp_state == 1 || d->qp_state == 2) {
		d->error = "the quoted-printable file part ends inside an '=' escape";
		return -1;
	}
	if (d->qp_cr && dec_put(d, "\r", 1) < 0)
		return -1;
	/* Blanks at the very end are padding too. */
	d->nws = 0;
	return 0;
}

/* Parses the transfer encoding; -1 with *error_r when unknown. */
static int
part_encoding(GMimePart *part, enum file_enc *enc_r, const char **error_r)
{
	static const char *const identity[] = {"7bit", "8bit", "binary"};
	const char *value =
	    g_mime_object_get_header(GMIME_OBJECT(part), "Content-Transfer-Encoding");
	char name[32];
	size_t len;

	*enc_r = ENC_IDENTITY;
	if (value == NULL)
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strcspn(value, " \t\r\n;(");
	if (len == 0)
		return 0;
	if (len >= sizeof(name)) {
		*error_r = "the file part's Content-Transfer-Encoding is not supported";
		return -1;
	}
	memcpy(name, value, len);
	name[len] = '\0';
	if (strcasecmp(name, "base64") == 0) {
		*enc_r = ENC_BASE64;
		return 0;
	}
	if (strcasecmp(name, "quoted-printable") == 0) {
		*enc_r = ENC_QP;
		return 0;
	}
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
		if (strcasecmp(name, identity[i]) == 0)
			return 0;
	}
	for (char *c = name; *c != '\0'; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c > 0x7e || *c == '"')
			*c = '?';
	}
	*error_r = groupware_fail("the file part's Content-Transfer-Encoding \"%s\" is not "
	                          "supported (7bit, 8bit, binary, base64 and quoted-printable are)",
	                          name);
	return -1;
}

/* Decodes the file part: sha256_r (hex) and size_r, the bytes to write
 * (may be NULL). */
static const char *
decode_part(GMimePart *part, groupware_file_write_fn *write, void *ctx, char sha256_r[65],
            uint64_t *size_r)
{
	struct file_decoder *d = xcalloc(1, sizeof(*d));
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *s = dw != NULL ? g_mime_data_wrapper_get_stream(dw) : NULL;
	unsigned char *buf = xmalloc(READ_CHUNK), hash[crypto_hash_sha256_BYTES];
	const char *error = NULL;
	ssize_t n;
	int ret = 0;

	if (part_encoding(part, &d->enc, &error) < 0)
		goto out;
	d->write = write;
	d->ctx = ctx;
	crypto_hash_sha256_init(&d->sha);
	if (s != NULL) {
		g_mime_stream_reset(s);
		while (ret == 0 && (n = g_mime_stream_read(s, (char *)buf, READ_CHUNK)) > 0) {
			switch (d->enc) {
			case ENC_BASE64:
				ret = b64_feed(d, buf, (size_t)n);
				break;
			case ENC_QP:
				ret = qp_feed(d, buf, (size_t)n);
				break;
			default:
				ret = dec_put(d, buf, (size_t)n);
				break;
			}
		}
	}
	if (ret == 0) {
		if (d->enc == ENC_BASE64)
			ret = b64_end(d);
		else if (d->enc == ENC_QP)
			ret = qp_end(d);
	}
	if (ret == 0)
		ret = dec_flush(d);
	if (ret < 0) {
		error = d->error;
		goto out;
	}
	crypto_hash_sha256_final(&d->sha, hash);
	sodium_bin2hex(sha256_r, 65, hash, sizeof(hash));
	*size_r = d->size;
out:
	free(buf);
	free(d);
	return error;
}

/* --- The file item --- */

static const char *
check_kolab_type(const char *header, const char *folder_type)
{
	enum groupware_type kolab;

	if (header == NULL)
		return "no X-Kolab-Type header (a file item has X-Kolab-Type: " FILE_LABEL ")";
	if (groupware_type_from_kolab(header, &kolab) < 0) {
		bool plain = true;

		for (const char *c = header; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				plain = false;
		}
		return plain ? groupware_fail("unknown X-Kolab-Type \"%.80s\"", header)
		             : "unknown X-Kolab-Type";
	}
	if (kolab != GROUPWARE_FILE)
		return groupware_fail(
		    "X-Kolab-Type names %s %s; a file folder holds files (" FILE_LABEL ")",
		    groupware_article(kolab), groupware_types[kolab].label);
	if (folder_type != NULL && strcmp(folder_type, "file") != 0)
		return groupware_fail("a file cannot be stored in a folder of type %.40s",
		                      folder_type);
	return NULL;
}

/* The file part of msg and its name; NULL with *error_r. */
static GMimePart *
file_part(GMimeMessage *msg, const char **name_r, const char **error_r)
{
	struct file_walk w = {0};
	const char *name;

	walk_files(g_mime_message_get_mime_part(msg), &w, 0);
	if (w.nfiles == 0) {
		*error_r = "no file part (an attachment with a filename)";
		return NULL;
	}
	if (w.nfiles > 1) {
		*error_r =
		    groupware_fail("%zu file parts; a file item holds exactly one", w.nfiles);
		return NULL;
	}
	if (w.file == NULL) {
		*error_r = "the file part is an attached message, not a file";
		return NULL;
	}
	name = g_mime_part_get_filename(w.file);
	if (name == NULL || name[0] == '\0') {
		*error_r = "the file part has no filename";
		return NULL;
	}
	if (groupware_file_name_check(name, error_r) < 0)
		return NULL;
	*name_r = name;
	return w.file;
}

static char *
media_type(GMimePart *part)
{
	char *type =
	    g_mime_content_type_get_mime_type(g_mime_object_get_content_type(GMIME_OBJECT(part)));
	char *ret = xstrdup(type);

	g_free(type);
	for (char *c = ret; *c != '\0'; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	return ret;
}

/* Everything but the decoding; the part and the UID on success. */
static const char *
file_check(GMimeMessage *msg, const char *folder_type, GMimePart **part_r, char **uid_r,
           const char **name_r)
{
	const char *error;
	const char *header = g_mime_object_get_header(GMIME_OBJECT(msg), "X-Kolab-Type");

	if ((error = check_kolab_type(header, folder_type)) != NULL)
		return error;
	if ((*uid_r = subject_uid(msg, &error)) == NULL)
		return error;
	if ((*part_r = file_part(msg, name_r, &error)) == NULL) {
		free(*uid_r);
		*uid_r = NULL;
		return error;
	}
	return NULL;
}

const char *
groupware_file_parse_msg(struct groupware_item *item, GMimeMessage *msg, const char *folder_type)
{
	struct groupware_file_info *f = &item->file;
	const char *error, *name;
	GMimePart *part;
	char *uid;

	if ((error = file_check(msg, folder_type, &part, &uid, &name)) != NULL)
		return error;
	item->type = GROUPWARE_FILE;
	f->uid = uid;
	f->filename = xstrdup(name);
	f->media_type = media_type(part);
	if ((error = decode_part(part, NULL, NULL, f->sha256, &f->size)) != NULL)
		return error;
	item->index.kind = groupware_types[GROUPWARE_FILE].kind;
	item->index.uid = uid;
	item->index.title = f->filename;
	item->index.percent = -1;
	item->index.filename = f->filename;
	item->index.media_type = f->media_type;
	item->index.file_size = f->size;
	item->index.sha256 = f->sha256;
	return NULL;
}

int
groupware_file_decode(const void *data, size_t len, groupware_file_write_fn *write, void *ctx,
                      struct groupware_file_info *info_r, const char **error_r)
{
	GMimeMessage *msg;
	GMimePart *part;
	const char *error, *name;
	char *uid = NULL;

	memset(info_r, 0, sizeof(*info_r));
	if (data == NULL || len == 0) {
		*error_r = "empty message";
		return -1;
	}
	if ((msg = groupware_mime_open(data, len)) == NULL) {
		*error_r = "not a MIME message";
		return -1;
	}
	if ((error = file_check(msg, "file", &part, &uid, &name)) == NULL) {
		info_r->uid = uid;
		uid = NULL;
		info_r->filename = xstrdup(name);
		info_r->media_type = media_type(part);
		error = decode_part(part, write, ctx, info_r->sha256, &info_r->size);
	}
	free(uid);
	g_object_unref(msg);
	if (error != NULL) {
		groupware_file_info_clear(info_r);
		*error_r = error;
		return -1;
	}
	return 0;
}

void
groupware_file_info_clear(struct groupware_file_info *info)
{
	free(info->uid);
	free(info->filename);
	free(info->media_type);
	memset(info, 0, sizeof(*info));
}
