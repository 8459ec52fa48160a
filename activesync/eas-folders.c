/* The EAS view of the folder tree, shared by the folder commands and Ping:
 * folder ServerIds and types, the folder set as the text a device's
 * hierarchy state is stored as ("id<TAB>parent<TAB>type<TAB>name" lines),
 * and its order-independent digest. */
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eas-private.h"
#include "store.h"
#include "xmalloc.h"

#define OUTBOX_NAME "Outbox"

/* --- ServerIds and types --- */

int
eas_parse_u64(const char *s, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

int
eas_parse_item_id(const char *server_id, uint64_t *folder_id_r, uint32_t *uid_r)
{
	const char *colon;
	uint64_t folder, uid;

	if (server_id == NULL || (colon = strchr(server_id, ':')) == NULL)
		return -1;
	if (eas_parse_u64(server_id, (size_t)(colon - server_id), &folder) < 0 || folder == 0 ||
	    eas_parse_u64(colon + 1, strlen(colon + 1), &uid) < 0 || uid == 0 || uid > UINT32_MAX)
		return -1;
	*folder_id_r = folder;
	*uid_r = (uint32_t)uid;
	return 0;
}

unsigned
eas_folder_type(const struct store_folder *f)
{
	const char *type = f->type != NULL ? f->type : "mail";

	if (strcmp(type, "mail") == 0) {
		const char *su = f->special_use;

		if (su != NULL && strcmp(su, "inbox") == 0)
			return 2;
		if (f->parent_id == 0 && strcasecmp(f->path, "INBOX") == 0)
			return 2;
		if (su != NULL && strcmp(su, "drafts") == 0)
			return 3;
		if (su != NULL && strcmp(su, "trash") == 0)
			return 4;
		if (su != NULL && strcmp(su, "sent") == 0)
			return 5;
		if (f->parent_id == 0 && strcmp(f->path, OUTBOX_NAME) == 0)
			return 6;
		return 12;
	}
	if (strcmp(type, "task") == 0)
		return f->is_default ? 7 : 15;
	if (strcmp(type, "event") == 0)
		return f->is_default ? 8 : 13;
	if (strcmp(type, "contact") == 0)
		return f->is_default ? 9 : 14;
	if (strcmp(type, "note") == 0)
		return f->is_default ? 10 : 17;
	if (strcmp(type, "journal") == 0)
		return f->is_default ? 11 : 16;
	return 1;
}

/* Types a device may not delete or rename: the default folders. */
bool
eas_type_is_special(unsigned type)
{
	return type >= 2 && type <= 11;
}

/* --- The EAS view of a folder list --- */

void
eas_view_free(struct eas_view *v)
{
	for (size_t i = 0; i < v->count; i++) {
		free(v->items[i].name);
		free(v->items[i].path);
	}
	free(v->items);
	v->items = NULL;
	v->count = 0;
}

const struct eas_view_folder *
eas_view_find(const struct eas_view *v, uint64_t id)
{
	for (size_t i = 0; i < v->count; i++) {
		if (v->items[i].id == id)
			return &v->items[i];
	}
	return NULL;
}

/* Folders of type file and everything below them are left out. */
void
eas_view_build(const struct store_folder_list *list, struct eas_view *v)
{
	v->items = xcalloc(list->count + 1, sizeof(*v->items));
	v->count = 0;
	for (size_t i = 0; i < list->count; i++) {
		const struct store_folder *f = &list->folders[i];
		const char *slash = strrchr(f->path, '/');
		struct eas_view_folder *vf;

		if (f->type != NULL && strcmp(f->type, "file") == 0)
			continue;
		if (f->parent_id != 0 && eas_view_find(v, f->parent_id) == NULL)
			continue; /* below a folder that is not shown */
		vf = &v->items[v->count++];
		vf->id = f->id;
		vf->parent = f->parent_id;
		vf->type = eas_folder_type(f);
		vf->name = xstrdup(slash != NULL ? slash + 1 : f->path);
		vf->path = xstrdup(f->path);
	}
}

void
eas_state_add_line(struct evbuffer *out, uint64_t id, uint64_t parent, unsigned type,
                   const char *name)
{
	evbuffer_add_printf(out, "%" PRIu64 "\t%" PRIu64 "\t%u\t%s\n", id, parent, type, name);
}

char *
eas_view_state(const struct eas_view *v)
{
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *s;

	for (size_t i = 0; i < v->count; i++)
		eas_state_add_line(out, v->items[i].id, v->items[i].parent, v->items[i].type,
		                   v->items[i].name);
	len = evbuffer_get_length(out);
	s = xmalloc(len + 1);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	return s;
}

char *
eas_folders_state(const struct store_folder_list *list)
{
	struct eas_view v;
	char *s;

	eas_view_build(list, &v);
	s = eas_view_state(&v);
	eas_view_free(&v);
	return s;
}

/* Splits a copy of text (modified in place) into entries. */
struct eas_state_entry *
eas_state_parse(char *text, size_t *count_r)
{
	size_t n = 0, cap = 16;
	struct eas_state_entry *e = xcalloc(cap, sizeof(*e));
	char *p = text;

	while (*p != '\0') {
		char *nl = strchr(p, '\n'), *f2, *f3, *f4;

		if (nl == NULL)
			break;
		*nl = '\0';
		f2 = strchr(p, '\t');
		f3 = f2 != NULL ? strchr(f2 + 1, '\t') : NULL;
		f4 = f3 != NULL ? strchr(f3 + 1, '\t') : NULL;
		if (f4 != NULL) {
			if (n == cap)
				e = xreallocarray(e, cap *= 2, sizeof(*e));
			e[n].line = p;
			e[n].line_len = (size_t)(nl - p);
			*f2 = *f3 = *f4 = '\0';
			e[n].id = strtoull(p, NULL, 10);
			e[n].parent = strtoull(f2 + 1, NULL, 10);
			e[n].type = (unsigned)strtoul(f3 + 1, NULL, 10);
			e[n].name = f4 + 1;
			n++;
		}
		p = nl + 1;
	}
	*count_r = n;
	return e;
}

const struct eas_state_entry *
eas_state_find(const struct eas_state_entry *e, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].id == id)
			return &e[i];
	}
	return NULL;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct eas_state_entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void
eas_hash_text(const char *text, char hash_r[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	snprintf(hash_r, 17, "%016" PRIx64, h);
}

void
eas_folders_hash(const char *state, char hash_r[17])
{
	char *copy = xstrdup(state);
	size_t n;
	struct eas_state_entry *e = eas_state_parse(copy, &n);
	uint64_t h = 0xcbf29ce484222325ULL;

	qsort(e, n, sizeof(*e), entry_cmp);
	for (size_t i = 0; i < n; i++) {
		char head[64];
		int len = snprintf(head, sizeof(head), "%" PRIu64 "/%" PRIu64 "/%u/", e[i].id,
		                   e[i].parent, e[i].type);

		for (int k = 0; k < len; k++) {
			h ^= (unsigned char)head[k];
			h *= 0x100000001b3ULL;
		}
		for (const unsigned char *p = (const unsigned char *)e[i].name; *p != '\0'; p++) {
			h ^= *p;
			h *= 0x100000001b3ULL;
		}
		h ^= '\n';
		h *= 0x100000001b3ULL;
	}
	snprintf(hash_r, 17, "%016" PRIx64, h);
	free(e);
	free(copy);
}
