/* floectl's file commands: file put / get / list on an account's file
 * folders. A file is stored as a groupware file item (built by
 * modules/groupware-item.h, exactly what IMAP APPEND accepts), so IMAP
 * clients, and later WebDAV, see it at once; put over an existing name
 * replaces that file and keeps its UID. The SQL is in db/admin-file.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "admin-file.h"
#include "admin.h"
#include "floectl.h"
#include "groupware-item.h"
#include "message.h"
#include "xmalloc.h"

/* Files larger than this are refused (the IMAP default APPENDLIMIT). */
#define FILE_PUT_MAX (64ULL * 1024 * 1024)

const struct floectl_option floectl_file_put_options[] = {
    {.name = "--name", .arg = "NAME", .help = "the file's name in the folder (default: PATH's)"},
    {.name = "--type",
     .arg = "MEDIA-TYPE",
     .help = "its media type (default: from the name's extension)"},
    {0},
};

/* Media types of common extensions; anything else is octet-stream. */
static const char *
guess_media_type(const char *name)
{
	static const char *const table[][2] = {
	    {"txt", "text/plain"},
	    {"csv", "text/csv"},
	    {"htm", "text/html"},
	    {"html", "text/html"},
	    {"ics", "text/calendar"},
	    {"vcf", "text/vcard"},
	    {"xml", "application/xml"},
	    {"json", "application/json"},
	    {"pdf", "application/pdf"},
	    {"zip", "application/zip"},
	    {"doc", "application/msword"},
	    {"xls", "application/vnd.ms-excel"},
	    {"ppt", "application/vnd.ms-powerpoint"},
	    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	    {"odt", "application/vnd.oasis.opendocument.text"},
	    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
	    {"png", "image/png"},
	    {"jpg", "image/jpeg"},
	    {"jpeg", "image/jpeg"},
	    {"gif", "image/gif"},
	    {"svg", "image/svg+xml"},
	    {"mp3", "audio/mpeg"},
	    {"mp4", "video/mp4"},
	};
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name)
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcasecmp(dot + 1, table[i][0]) == 0)
			return table[i][1];
	}
	return "application/octet-stream";
}

/* Reads the local file at path (at most FILE_PUT_MAX bytes). */
static int
read_local(const char *path, unsigned char **data_r, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	unsigned char *data;
	size_t len;

	if (f == NULL)
		return floectl_fail("cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return floectl_fail("%s is not a regular file", path);
	}
	if ((unsigned long long)st.st_size > FILE_PUT_MAX) {
		fclose(f);
		return floectl_fail("%s is larger than %llu bytes", path, FILE_PUT_MAX);
	}
	data = xmalloc((size_t)st.st_size + 1);
	len = fread(data, 1, (size_t)st.st_size, f);
	if (ferror(f) || len != (size_t)st.st_size) {
		free(data);
		fclose(f);
		return floectl_fail("cannot read %s", path);
	}
	fclose(f);
	*data_r = data;
	*len_r = len;
	return 0;
}

static json_t *
file_json(const struct admin_file *f)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:s}", "name", f->filename, "size",
	                 (json_int_t)f->size, "type", f->media_type, "sha256", f->sha256, "uid",
	                 (json_int_t)f->uid, "object_uid", f->object_uid, "modseq",
	                 (json_int_t)f->modseq, "stored", f->stored_at);
}

/* Builds the item for data, parses it back for its index and message
 * metadata, and stores it (replacing replace_uid when > 0). */
static int
put_item(PGconn *conn, const char *address, const char *folder, const char *uid, const char *name,
         const char *type, const unsigned char *data, size_t len, int64_t replace_uid,
         int64_t *uid_r, struct groupware_file_info *info_r)
{
	struct groupware_file_build b = {
	    .uid = uid,
	    .filename = name,
	    .media_type = type,
	    .data = data,
	    .size = len,
	};
	struct groupware_item *item = NULL;
	struct message_info mi;
	struct store_append_item si = {0};
	const char *error;
	size_t msglen;
	char *msg;
	int ret = -1;

	/* From: the owner, when the address is plain ASCII (IDN domains are
	 * left out rather than encoded). */
	b.from = address;
	for (const char *c = address; *c != '\0'; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c > 0x7e)
			b.from = NULL;
	}
	if ((msg = groupware_file_build(&b, &msglen, &error)) == NULL)
		return floectl_fail("%s", error);
	if ((item = groupware_item_parse(msg, msglen, "file", &error)) == NULL) {
		free(msg);
		return floectl_fail("%s", error);
	}
	if (message_parse(msg, msglen, &mi, &error) < 0) {
		groupware_item_free(&item);
		free(msg);
		return floectl_fail("%s", error);
	}
	si.data = msg;
	si.size = msglen;
	si.meta = &mi.meta;
	if (admin_file_store(conn, address, folder, replace_uid, &si, &item->index, uid_r, &error) <
	    0)
		floectl_fail("%s", error);
	else
		ret = 0;
	info_r->size = item->file.size;
	memcpy(info_r->sha256, item->file.sha256, sizeof(info_r->sha256));
	message_info_clear(&mi);
	groupware_item_free(&item);
	free(msg);
	return ret;
}

int
floectl_cmd_file_put(struct floectl *ctl, const struct floectl_command *cmd,
                     const struct floectl_args *args)
{
	const char *path = args->pos[2], *folder = args->pos[1], *error;
	const char *name = floectl_option(cmd, args, "--name");
	const char *type = floectl_option(cmd, args, "--type");
	struct groupware_file_info info = {0};
	struct admin_file old = {0};
	unsigned char *data = NULL;
	char *address = NULL, newuid[64];
	int64_t uid = 0;
	size_t len = 0;
	PGconn *conn;
	int found, ret = -1;

	if (name == NULL) {
		const char *slash = strrchr(path, '/');

		name = slash != NULL ? slash + 1 : path;
	}
	if (groupware_file_name_check(name, &error) < 0)
		return floectl_usage_fail(cmd, "%s (use --name)", error);
	if (type == NULL)
		type = guess_media_type(name);
	if (admin_address_normalize(args->pos[0], &address, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if (read_local(path, &data, &len) < 0)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if ((found = admin_file_find(conn, address, folder, name, &old, &error)) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (found == 0) {
		unsigned char rnd[16];
		char hex[33];

		if (sodium_init() < 0) {
			floectl_fail("libsodium cannot start");
			goto out;
		}
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(newuid, sizeof(newuid), "floe-file-%s", hex);
	} else {
		snprintf(newuid, sizeof(newuid), "%s", old.object_uid);
	}
	if (put_item(conn, address, folder, found ? old.object_uid : newuid, name, type, data, len,
	             found ? old.uid : 0, &uid, &info) < 0)
		goto out;
	if (floectl_json(ctl)) {
		json_t *o =
		    json_pack("{s:s, s:I, s:s, s:I, s:s}", "name", name, "uid", (json_int_t)uid,
		              "object_uid", found ? old.object_uid : newuid, "size",
		              (json_int_t)info.size, "sha256", info.sha256);

		json_object_set_new(o, "replaced",
		                    found ? json_integer((json_int_t)old.uid) : json_null());
		floectl_json_print(o);
	} else if (found) {
		printf("replaced %s in %s/%s (UID %" PRId64 " -> %" PRId64 ", %zu bytes)\n", name,
		       address, folder, old.uid, uid, len);
	} else {
		printf("stored %s in %s/%s (UID %" PRId64 ", %zu bytes)\n", name, address, folder,
		       uid, len);
	}
	ret = 0;
out:
	admin_file_clear(&old);
	free(data);
	free(address);
	return ret;
}

static int
write_stdout(const void *data, size_t len, void *ctx)
{
	(void)ctx;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

int
floectl_cmd_file_get(struct floectl *ctl, const struct floectl_command *cmd,
                     const struct floectl_args *args)
{
	const char *folder = args->pos[1], *name = args->pos[2], *error;
	struct groupware_file_info info;
	struct admin_file f = {0};
	unsigned char *item = NULL;
	char *address = NULL;
	size_t len;
	PGconn *conn;
	int found, ret = -1;

	(void)cmd;
	if (isatty(STDOUT_FILENO))
		return floectl_fail("standard output is a terminal: redirect it (> FILE)");
	if (admin_address_normalize(args->pos[0], &address, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if ((found = admin_file_find(conn, address, folder, name, &f, &error)) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (found == 0) {
		floectl_fail("no file %s in %s/%s", name, address, folder);
		goto out;
	}
	if (admin_file_read(conn, address, folder, f.uid, &item, &len, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (groupware_file_decode(item, len, write_stdout, NULL, &info, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	groupware_file_info_clear(&info);
	if (fflush(stdout) != 0) {
		floectl_fail("cannot write the file: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	admin_file_clear(&f);
	free(item);
	free(address);
	return ret;
}

int
floectl_cmd_file_list(struct floectl *ctl, const struct floectl_command *cmd,
                      const struct floectl_args *args)
{
	static const char *const headers[] = {"NAME", "SIZE", "TYPE", "UID", "STORED"};
	struct admin_file_list list;
	struct floectl_table table;
	const char *error;
	char *address;
	PGconn *conn;
	int ret;

	(void)cmd;
	if ((conn = floectl_db_account(ctl, args->pos[0], &address)) == NULL)
		return -1;
	ret = admin_file_list(conn, address, args->pos[1], &list, &error);
	free(address);
	if (ret < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array, file_json(&list.items[i]));
		floectl_json_print(array);
	} else {
		floectl_table_init(&table, 5, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_file *f = &list.items[i];
			char size[24], uid[24];

			snprintf(size, sizeof(size), "%" PRId64, f->size);
			snprintf(uid, sizeof(uid), "%" PRId64, f->uid);
			const char *row[] = {f->filename, size, f->media_type, uid, f->stored_at};
			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
	}
	admin_file_list_free(&list);
	return 0;
}
