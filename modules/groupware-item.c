/* The Kolab-style MIME form of groupware items: the item types, and
 * parsing with GMime, validated with modules/ical-item.c and
 * modules/vcard.c and turned into the store's index. Building is in
 * groupware-item-build.c, file items in groupware-item-file.c. */
#include "groupware-item.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include "groupware-item-private.h"
#include "xmalloc.h"

static char errbuf[320];

const char *
groupware_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return errbuf;
}

const struct groupware_type_info groupware_types[GROUPWARE_NTYPES] = {
    [GROUPWARE_EVENT] = {"application/x-vnd.kolab.event", "event", "event", "event"},
    [GROUPWARE_TASK] = {"application/x-vnd.kolab.task", "task", "task", "task"},
    [GROUPWARE_NOTE] = {"application/x-vnd.kolab.note", "note", "note", "note"},
    [GROUPWARE_JOURNAL] = {"application/x-vnd.kolab.journal", "journal", "journal",
                           "journal entry"},
    [GROUPWARE_CONTACT] = {"application/x-vnd.kolab.contact", "contact", "contact", "contact"},
    [GROUPWARE_DISTLIST] = {"application/x-vnd.kolab.distribution-list", "contact", "distlist",
                            "distribution list"},
    [GROUPWARE_FILE] = {"application/x-vnd.kolab.file", "file", "file", "file"},
};

const char *
groupware_article(enum groupware_type type)
{
	return type == GROUPWARE_EVENT ? "an" : "a";
}

const char *
groupware_type_kolab(enum groupware_type type)
{
	return groupware_types[type].kolab;
}

const char *
groupware_type_folder(enum groupware_type type)
{
	return groupware_types[type].folder;
}

const char *
groupware_type_kind(enum groupware_type type)
{
	return groupware_types[type].kind;
}

int
groupware_type_from_kolab(const char *value, enum groupware_type *type_r)
{
	size_t len;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strcspn(value, " \t;\r\n");
	for (size_t i = 0; i < GROUPWARE_NTYPES; i++) {
		if (strlen(groupware_types[i].kolab) == len &&
		    strncasecmp(groupware_types[i].kolab, value, len) == 0) {
			*type_r = (enum groupware_type)i;
			return 0;
		}
	}
	return -1;
}

bool
groupware_is_calendar(enum groupware_type type)
{
	return type == GROUPWARE_EVENT || type == GROUPWARE_TASK || type == GROUPWARE_NOTE ||
	       type == GROUPWARE_JOURNAL;
}

enum ical_item_kind
groupware_ical_kind(enum groupware_type type)
{
	switch (type) {
	case GROUPWARE_EVENT:
		return ICAL_ITEM_EVENT;
	case GROUPWARE_TASK:
		return ICAL_ITEM_TASK;
	case GROUPWARE_NOTE:
		return ICAL_ITEM_NOTE;
	case GROUPWARE_JOURNAL:
		return ICAL_ITEM_JOURNAL;
	default:
		break;
	}
	return ICAL_ITEM_ANY;
}

static enum groupware_type
type_of_ical(enum ical_item_kind kind)
{
	switch (kind) {
	case ICAL_ITEM_TASK:
		return GROUPWARE_TASK;
	case ICAL_ITEM_NOTE:
		return GROUPWARE_NOTE;
	case ICAL_ITEM_JOURNAL:
		return GROUPWARE_JOURNAL;
	default:
		break;
	}
	return GROUPWARE_EVENT;
}

/* --- Parsing --- */

void
groupware_gmime_init(void)
{
	static gsize once;

	if (g_once_init_enter(&once)) {
		g_mime_init();
		g_once_init_leave(&once, 1);
	}
}

static unsigned char *
part_decode(GMimePart *part, size_t *len_r)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *arr;
	unsigned char *out;

	*len_r = 0;
	if (dw == NULL)
		return xcalloc(1, 1);
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, mem);
	arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	out = xmalloc(arr->len + 1);
	memcpy(out, arr->data, arr->len);
	out[arr->len] = '\0';
	*len_r = arr->len;
	g_object_unref(mem);
	return out;
}

static bool
is_object_type(GMimeContentType *ct, bool *calendar_r)
{
	if (g_mime_content_type_is_type(ct, "text", "calendar")) {
		*calendar_r = true;
		return true;
	}
	*calendar_r = false;
	return g_mime_content_type_is_type(ct, "text", "vcard") ||
	       g_mime_content_type_is_type(ct, "text", "x-vcard") ||
	       g_mime_content_type_is_type(ct, "text", "directory");
}

struct walk {
	GMimePart *object;  /* the chosen object part */
	bool object_kolab;  /* it has X-Kolab-Type */
	GMimePart **leaves; /* every other leaf part */
	size_t nleaves;
};

static void
walk_parts(GMimeObject *obj, struct walk *w, int depth)
{
	bool calendar;

	if (depth > 16)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			walk_parts(g_mime_multipart_get_part(mp, i), w, depth + 1);
		return;
	}
	if (!GMIME_IS_PART(obj))
		return; /* an attached message is not looked into */
	if (is_object_type(g_mime_object_get_content_type(obj), &calendar)) {
		bool kolab = g_mime_object_get_header(obj, "X-Kolab-Type") != NULL;

		if (w->object == NULL || (kolab && !w->object_kolab)) {
			if (w->object != NULL) {
				w->leaves =
				    xreallocarray(w->leaves, w->nleaves + 1, sizeof(*w->leaves));
				w->leaves[w->nleaves++] = w->object;
			}
			w->object = GMIME_PART(obj);
			w->object_kolab = kolab;
			return;
		}
	}
	w->leaves = xreallocarray(w->leaves, w->nleaves + 1, sizeof(*w->leaves));
	w->leaves[w->nleaves++] = GMIME_PART(obj);
}

bool
groupware_is_attachment(GMimePart *part)
{
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(GMIME_OBJECT(part));

	return (cd != NULL && g_mime_content_disposition_is_attachment(cd)) ||
	       g_mime_part_get_filename(part) != NULL;
}

static void
fill_calendar_index(struct groupware_item *item)
{
	struct ical_item_index *ix = &item->ical_index;
	struct store_gw_index *x = &item->index;

	ical_item_index_get(item->ical, ix);
	x->uid = ix->uid;
	x->title = ix->summary;
	x->location = ix->location;
	x->status = ix->status;
	x->klass = ix->klass;
	x->rrule = ix->rrule;
	x->organizer = ix->organizer;
	x->is_private = ix->is_private;
	x->has_start = ix->has_start || ix->has_due;
	x->start = ix->has_start ? ix->start : ix->due;
	x->has_end = ix->has_end;
	x->end = ix->has_end ? ix->end : x->start;
	x->all_day = ix->all_day;
	x->floating = ix->floating;
	x->recurring = ix->recurring;
	x->infinite = ix->infinite;
	x->range_end = ix->has_start ? ix->range_end : x->end;
	if (x->range_end < x->end)
		x->range_end = x->end;
	x->has_due = ix->has_due;
	x->due = ix->due;
	x->has_completed = ix->has_completed;
	x->completed = ix->completed;
	x->percent = ix->percent;
	x->priority = ix->priority;
	x->categories = (const char *const *)ix->categories;
	x->ncategories = ix->ncategories;
	item->attendees = xcalloc(ix->nattendees + 1, sizeof(*item->attendees));
	for (size_t i = 0; i < ix->nattendees; i++) {
		item->attendees[i].address = ix->attendees[i].address;
		item->attendees[i].name = ix->attendees[i].name;
		item->attendees[i].partstat = ix->attendees[i].partstat;
		item->attendees[i].role = ix->attendees[i].role;
	}
	x->attendees = item->attendees;
	x->nattendees = ix->nattendees;
}

static void
fill_card_index(struct groupware_item *item)
{
	struct vcard_index *ix = &item->card_index;
	struct store_gw_index *x = &item->index;

	x->uid = ix->uid;
	x->title = ix->fn;
	x->klass = ix->klass;
	x->is_private = ix->klass != NULL && strcasecmp(ix->klass, "PRIVATE") == 0;
	x->percent = -1;
	x->given_name = ix->n_given;
	x->family_name = ix->n_family;
	x->org = ix->org;
	x->emails = (const char *const *)ix->emails;
	x->nemails = ix->nemails;
	x->phones = (const char *const *)ix->tels;
	x->nphones = ix->ntels;
	x->members = (const char *const *)ix->members;
	x->nmembers = ix->nmembers;
	x->categories = (const char *const *)ix->categories;
	x->ncategories = ix->ncategories;
	if (ix->has_bday) {
		x->bday_year = ix->bday_year;
		x->bday_month = ix->bday_month;
		x->bday_day = ix->bday_day;
	}
}

/* Validates the object part and sets the type. */
static const char *
parse_object(struct groupware_item *item, bool calendar, bool have_kolab, enum groupware_type kolab,
             const char *folder_type)
{
	const char *error = NULL;

	if (calendar) {
		enum ical_item_kind expect = ICAL_ITEM_ANY;

		if (have_kolab && !groupware_is_calendar(kolab))
			return groupware_fail("X-Kolab-Type names a %s but the object is iCalendar",
			                      groupware_types[kolab].label);
		if (have_kolab)
			expect = groupware_ical_kind(kolab);
		else if (folder_type != NULL)
			expect = ical_item_kind_from_name(folder_type);
		if (folder_type != NULL && strcmp(folder_type, "contact") == 0)
			return groupware_fail(
			    "a calendar object cannot be stored in a contact folder");
		item->ical = ical_item_parse(item->object, item->object_len, expect, &error);
		if (item->ical == NULL)
			return error;
		item->type = type_of_ical(item->ical->kind);
		item->index.kind = groupware_types[item->type].kind;
		fill_calendar_index(item);
	} else {
		bool group;

		if (have_kolab && groupware_is_calendar(kolab))
			return groupware_fail("X-Kolab-Type names a%s %s but the object is a vCard",
			                      kolab == GROUPWARE_EVENT ? "n" : "",
			                      groupware_types[kolab].label);
		item->card = vcard_parse(item->object, item->object_len, &error);
		if (item->card == NULL)
			return error;
		vcard_index_get(item->card, &item->card_index);
		group = strcmp(item->card_index.kind, "group") == 0;
		if (have_kolab && kolab == GROUPWARE_DISTLIST && !group)
			return groupware_fail("a distribution list needs KIND:group");
		item->type = group ? GROUPWARE_DISTLIST : GROUPWARE_CONTACT;
		if (item->card_index.uid == NULL)
			return groupware_fail("the card has no UID");
		item->index.kind = groupware_types[item->type].kind;
		fill_card_index(item);
	}
	if (folder_type != NULL && strcmp(folder_type, groupware_types[item->type].folder) != 0)
		return groupware_fail("a%s %s cannot be stored in a folder of type %s",
		                      item->type == GROUPWARE_EVENT ? "n" : "",
		                      groupware_types[item->type].label, folder_type);
	return NULL;
}

struct groupware_item *
groupware_item_parse(const void *data, size_t len, const char *folder_type, const char **error_r)
{
	struct groupware_item *item;
	GMimeMessage *msg;
	GMimeContentType *ct;
	struct walk w = {0};
	const char *error = NULL, *header, *charset;
	enum groupware_type kolab = GROUPWARE_EVENT;
	bool have_kolab = false, calendar;

	if (data == NULL || len == 0) {
		*error_r = "empty message";
		return NULL;
	}
	if ((msg = groupware_mime_open(data, len)) == NULL) {
		*error_r = "not a MIME message";
		return NULL;
	}
	item = xcalloc(1, sizeof(*item));
	header = g_mime_object_get_header(GMIME_OBJECT(msg), "X-Kolab-Type");
	if ((folder_type != NULL && strcmp(folder_type, "file") == 0) ||
	    (groupware_type_from_kolab(header, &kolab) == 0 && kolab == GROUPWARE_FILE)) {
		error = groupware_file_parse_msg(item, msg, folder_type);
		goto out;
	}
	walk_parts(g_mime_message_get_mime_part(msg), &w, 0);
	if (w.object == NULL) {
		error = "no text/calendar or text/vcard part in the message";
		goto out;
	}
	if (header == NULL)
		header = g_mime_object_get_header(GMIME_OBJECT(w.object), "X-Kolab-Type");
	if (header != NULL) {
		if (groupware_type_from_kolab(header, &kolab) < 0) {
			error = groupware_fail("unknown X-Kolab-Type \"%.80s\"", header);
			goto out;
		}
		if (kolab == GROUPWARE_FILE) {
			error = "X-Kolab-Type names a file on the object part";
			goto out;
		}
		have_kolab = true;
	}
	ct = g_mime_object_get_content_type(GMIME_OBJECT(w.object));
	is_object_type(ct, &calendar);
	charset = g_mime_content_type_get_parameter(ct, "charset");
	if (charset != NULL && strcasecmp(charset, "utf-8") != 0 &&
	    strcasecmp(charset, "us-ascii") != 0) {
		error = groupware_fail(
		    "the object part's charset %.40s is not supported (UTF-8 is)", charset);
		goto out;
	}
	item->object = (char *)part_decode(w.object, &item->object_len);
	if ((error = parse_object(item, calendar, have_kolab, kolab, folder_type)) != NULL)
		goto out;
	for (size_t i = 0; i < w.nleaves; i++) {
		struct groupware_part *a;
		const char *fn;
		char *type;

		if (!groupware_is_attachment(w.leaves[i]))
			continue;
		if (item->nattachments == GROUPWARE_MAX_ATTACHMENTS) {
			error =
			    groupware_fail("more than %d attachments", GROUPWARE_MAX_ATTACHMENTS);
			goto out;
		}
		item->attachments = xreallocarray(item->attachments, item->nattachments + 1,
		                                  sizeof(*item->attachments));
		a = &item->attachments[item->nattachments++];
		memset(a, 0, sizeof(*a));
		fn = g_mime_part_get_filename(w.leaves[i]);
		a->filename = fn != NULL ? xstrdup(fn) : NULL;
		type = g_mime_content_type_get_mime_type(
		    g_mime_object_get_content_type(GMIME_OBJECT(w.leaves[i])));
		a->content_type = xstrdup(type);
		g_free(type);
		for (char *c = a->content_type; *c != '\0'; c++) {
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		}
		a->data = part_decode(w.leaves[i], &a->size);
	}
out:
	free(w.leaves);
	g_object_unref(msg);
	if (error != NULL) {
		groupware_item_free(&item);
		*error_r = error;
		return NULL;
	}
	return item;
}

void
groupware_item_free(struct groupware_item **itemp)
{
	struct groupware_item *item = *itemp;

	if (item == NULL)
		return;
	ical_item_index_clear(&item->ical_index);
	vcard_index_clear(&item->card_index);
	ical_item_free(&item->ical);
	vcard_free(&item->card);
	for (size_t i = 0; i < item->nattachments; i++) {
		free(item->attachments[i].filename);
		free(item->attachments[i].content_type);
		free(item->attachments[i].data);
	}
	free(item->attachments);
	free(item->attendees);
	groupware_file_info_clear(&item->file);
	free(item->object);
	free(item);
	*itemp = NULL;
}
