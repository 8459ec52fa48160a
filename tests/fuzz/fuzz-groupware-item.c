/* libFuzzer target for modules/groupware-item: the first byte picks the
 * folder type the item is appended to (or none), the rest is parsed as a
 * Kolab-form MIME message. An item that parses must have an index with
 * its UID, and build back into a message that parses again into the same
 * type, the same object bytes and the same attachment contents; building
 * may only refuse an attachment (its name or content type). A file item
 * must also decode (groupware_file_decode) to the size and hash its index
 * holds, and build back (groupware_file_build) into an item with the same
 * UID, name, media type, size and hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "groupware-item.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_rebuild(const struct groupware_item *item)
{
	struct groupware_attachment atts[GROUPWARE_MAX_ATTACHMENTS];
	struct groupware_build build = {
	    .type = item->type,
	    .object = item->object,
	    .object_len = item->object_len,
	    .from = "fuzz@example.com",
	    .date = 1700000000,
	    .attachments = atts,
	    .nattachments = item->nattachments,
	};
	struct groupware_item *again;
	const char *error;
	size_t len, len2;
	char *msg, *msg2;

	for (size_t i = 0; i < item->nattachments; i++) {
		atts[i].filename = item->attachments[i].filename;
		atts[i].content_type = item->attachments[i].content_type;
		atts[i].data = item->attachments[i].data;
		atts[i].size = item->attachments[i].size;
	}
	msg = groupware_item_build(&build, &len, &error);
	if (msg == NULL) {
		if (strstr(error, "attachment") == NULL)
			abort();
		return;
	}
	/* Deterministic: the same input gives the same bytes. */
	msg2 = groupware_item_build(&build, &len2, &error);
	if (msg2 == NULL || len2 != len || memcmp(msg, msg2, len) != 0)
		abort();
	free(msg2);
	again = groupware_item_parse(msg, len, groupware_type_folder(item->type), &error);
	if (again == NULL || again->type != item->type || again->object_len != item->object_len ||
	    memcmp(again->object, item->object, item->object_len) != 0 ||
	    again->nattachments != item->nattachments)
		abort();
	for (size_t i = 0; i < item->nattachments; i++) {
		if (again->attachments[i].size != item->attachments[i].size ||
		    memcmp(again->attachments[i].data, item->attachments[i].data,
		           item->attachments[i].size) != 0)
			abort();
	}
	groupware_item_free(&again);
	free(msg);
}

struct collect {
	unsigned char *data;
	size_t len;
	crypto_hash_sha256_state sha;
};

static int
collect_write(const void *data, size_t len, void *ctx)
{
	struct collect *c = ctx;

	c->data = realloc(c->data, c->len + len);
	if (c->data == NULL)
		abort();
	memcpy(c->data + c->len, data, len);
	c->len += len;
	crypto_hash_sha256_update(&c->sha, data, len);
	return 0;
}

static void
check_file(const uint8_t *msg, size_t size, const struct groupware_item *item)
{
	struct groupware_file_info info, info2;
	struct collect c = {0};
	struct groupware_file_build build;
	struct groupware_item *again;
	unsigned char hash[crypto_hash_sha256_BYTES];
	char hex[65];
	const char *error;
	size_t len;
	char *built;

	if (item->index.filename == NULL || item->index.media_type == NULL ||
	    item->index.sha256 == NULL || strcmp(item->index.kind, "file") != 0 ||
	    item->file.uid == NULL || strcmp(item->file.uid, item->index.uid) != 0)
		abort();
	crypto_hash_sha256_init(&c.sha);
	if (groupware_file_decode(msg, size, collect_write, &c, &info, &error) < 0)
		abort();
	crypto_hash_sha256_final(&c.sha, hash);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	if (c.len != item->file.size || info.size != c.len || strcmp(hex, item->file.sha256) != 0 ||
	    strcmp(info.sha256, hex) != 0 || strcmp(info.filename, item->file.filename) != 0)
		abort();
	build = (struct groupware_file_build){
	    .uid = item->file.uid,
	    .filename = item->file.filename,
	    .media_type = item->file.media_type,
	    .data = c.data,
	    .size = c.len,
	    .date = 1700000000,
	};
	built = groupware_file_build(&build, &len, &error);
	/* The parser's UID and media type rules are looser than the
	 * builder's (a media type GMime accepted may not be a token pair). */
	if (built != NULL) {
		again = groupware_item_parse(built, len, "file", &error);
		if (again == NULL || strcmp(again->file.uid, item->file.uid) != 0 ||
		    strcmp(again->file.filename, item->file.filename) != 0 ||
		    strcmp(again->file.media_type, item->file.media_type) != 0 ||
		    again->file.size != c.len || strcmp(again->file.sha256, hex) != 0)
			abort();
		if (groupware_file_decode(built, len, NULL, NULL, &info2, &error) < 0)
			abort();
		groupware_file_info_clear(&info2);
		groupware_item_free(&again);
		free(built);
	}
	groupware_file_info_clear(&info);
	free(c.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const folder_types[] = {NULL,      "event",   "task", "note",
	                                           "journal", "contact", "mail", "file"};
	struct groupware_item *item;
	const char *error, *folder;

	if (size == 0)
		return 0;
	folder = folder_types[data[0] % (sizeof(folder_types) / sizeof(folder_types[0]))];
	item = groupware_item_parse(data + 1, size - 1, folder, &error);
	if (item == NULL) {
		if (error == NULL || *error == '\0')
			abort();
		return 0;
	}
	if (item->index.uid == NULL || item->index.kind == NULL ||
	    (folder != NULL && strcmp(folder, groupware_type_folder(item->type)) != 0))
		abort();
	if (item->type == GROUPWARE_FILE)
		check_file(data + 1, size - 1, item);
	else if (item->object == NULL)
		abort();
	else
		check_rebuild(item);
	groupware_item_free(&item);
	return 0;
}
