/* libFuzzer target for modules/groupware-item: the first byte picks the
 * folder type the item is appended to (or none), the rest is parsed as a
 * Kolab-form MIME message. An item that parses must have an index with
 * its UID, and build back into a message that parses again into the same
 * type, the same object bytes and the same attachment contents; building
 * may only refuse an attachment (its name or content type). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const folder_types[] = {NULL,      "event",   "task", "note",
	                                           "journal", "contact", "mail"};
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
	if (item->index.uid == NULL || item->index.kind == NULL || item->object == NULL ||
	    (folder != NULL && strcmp(folder, groupware_type_folder(item->type)) != 0))
		abort();
	check_rebuild(item);
	groupware_item_free(&item);
	return 0;
}
