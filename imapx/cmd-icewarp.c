/* IceWarp's IMAP extensions: the X-ICEWARP-SERVER command its clients send
 * after login ("X-ICEWARP-SERVER iwconnector "<version>""), and the METADATA
 * entries the server computes: the Kolab folder type under its three
 * spellings, /public/vendor/icewarp/serverinfo/{defaultcharset,clientip}
 * and /public/vendor/icewarp/folderinfo/{fullfolderpath,changedsince/<n>}. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "groupware-imap.h"
#include "log.h"
#include "msg-util.h"
#include "store-foldertype.h"
#include "xmalloc.h"

/* Longest connector version accepted. */
#define ICEWARP_VERSION_MAX 128

const char *const imap_meta_foldertype_names[3] = {
    "/shared/vendor/kolab/folder-type",
    "/private/vendor/kolab/folder-type",
    "/public/vendor/kolab/folder-type/value.shared",
};

#define CHANGEDSINCE_PREFIX "/public/vendor/icewarp/folderinfo/changedsince/"

enum imap_cmd_result
cmd_x_icewarp_server(struct imap_cmd *cmd)
{
	const char *what, *version;
	size_t len;

	if (cmd->count != 2 || !imap_arg_atom(&cmd->args[0], &what) ||
	    !imap_arg_astring(&cmd->args[1], &version, &len)) {
		imap_cmd_bad(cmd, "Usage: X-ICEWARP-SERVER iwconnector \"version\"");
		return IMAP_CMD_DONE;
	}
	if (strcasecmp(what, "iwconnector") != 0) {
		imap_cmd_bad(cmd, "X-ICEWARP-SERVER knows the client kind iwconnector only");
		return IMAP_CMD_DONE;
	}
	if (len == 0 || len > ICEWARP_VERSION_MAX) {
		imap_cmd_bad(cmd, "The connector version is empty or longer than %d bytes",
		             ICEWARP_VERSION_MAX);
		return IMAP_CMD_DONE;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)version[i];

		if (ch < 0x20 || ch == 0x7f) {
			imap_cmd_bad(cmd, "Control character in the connector version");
			return IMAP_CMD_DONE;
		}
	}
	log_info("imap %s%s%s: IceWarp connector %.*s", imap_client_peer(cmd->client),
	         imap_client_address(cmd->client) != NULL ? " " : "",
	         imap_client_address(cmd->client) != NULL ? imap_client_address(cmd->client) : "",
	         (int)len, version);
	imap_client_set_agent(cmd->client, version, len);
	/* IceWarp's connector takes HIGHESTMODSEQ and MODSEQ as available once
	 * the server answers this command: CONDSTORE is on from here, as if
	 * the client had sent ENABLE CONDSTORE. */
	if (imap_client_state(cmd->client) != IMAP_STATE_NOT_AUTH)
		imap_client_enable(cmd->client, IMAP_ENABLED_CONDSTORE);
	imap_cmd_ok(cmd, "X-ICEWARP-SERVER completed");
	return IMAP_CMD_DONE;
}

enum imap_meta_computed
imap_meta_computed(const char *name, uint64_t *modseq_r)
{
	static const struct {
		const char *name;
		enum imap_meta_computed kind;
	} fixed[] = {
	    {"/public/vendor/icewarp/folderinfo/fullfolderpath", IMAP_META_FULLPATH},
	    {"/public/vendor/icewarp/serverinfo/defaultcharset", IMAP_META_CHARSET},
	    {"/public/vendor/icewarp/serverinfo/clientip", IMAP_META_CLIENTIP},
	};
	size_t plen = strlen(CHANGEDSINCE_PREFIX);

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(name, imap_meta_foldertype_names[i]) == 0)
			return IMAP_META_FOLDERTYPE;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++) {
		if (strcmp(name, fixed[i].name) == 0)
			return fixed[i].kind;
	}
	if (strncmp(name, CHANGEDSINCE_PREFIX, plen) == 0) {
		const char *p = name + plen;
		uint64_t n = 0;

		if (*p == '\0' || strlen(p) > 19)
			return IMAP_META_PUBLIC_UNKNOWN;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return IMAP_META_PUBLIC_UNKNOWN;
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (n > INT64_MAX)
			return IMAP_META_PUBLIC_UNKNOWN;
		if (modseq_r != NULL)
			*modseq_r = n;
		return IMAP_META_CHANGEDSINCE;
	}
	if (strncmp(name, "/public/", 8) == 0)
		return IMAP_META_PUBLIC_UNKNOWN;
	return IMAP_META_STORED;
}

char *
imap_meta_value(struct imap_client *client, enum imap_meta_computed kind,
                const struct store_folder *folder, const char *display_name, bool own)
{
	char buf[STORE_FOLDERTYPE_MAX];

	switch (kind) {
	case IMAP_META_CHARSET:
		return xstrdup("UTF-8");
	case IMAP_META_CLIENTIP:
		return xstrdup(imap_client_peer(client));
	case IMAP_META_FOLDERTYPE:
		if (folder == NULL || folder->noselect)
			return NULL;
		return xstrdup(store_foldertype_format(folder, own, buf, sizeof(buf)));
	case IMAP_META_FULLPATH:
		return folder != NULL && display_name != NULL ? xstrdup(display_name) : NULL;
	case IMAP_META_STORED:
	case IMAP_META_CHANGEDSINCE:
	case IMAP_META_PUBLIC_UNKNOWN:
		break;
	}
	return NULL;
}

struct imap_meta_buf {
	char *s;
	size_t len, cap;
};

static void
meta_buf_add(struct imap_meta_buf *b, const char *text)
{
	size_t n = strlen(text);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, text, n + 1);
	b->len += n;
}

/* A UID set with ':' and ',' percent-encoded. */
static void
changedsince_set(struct imap_meta_buf *out, const uint32_t *uids, size_t count)
{
	char *set;

	if (count == 0)
		return;
	set = imap_uid_list_format(uids, NULL, count);
	for (const char *p = set; *p != '\0'; p++) {
		char one[2] = {*p, '\0'};

		meta_buf_add(out, *p == ':' ? "%3A" : *p == ',' ? "%2C" : one);
	}
	free(set);
}

char *
imap_meta_changedsince(const struct store_msg_list *list)
{
	struct imap_meta_buf out = {0};
	uint32_t *uids = list->count > 0 ? xcalloc(list->count, sizeof(*uids)) : NULL;

	for (size_t i = 0; i < list->count; i++)
		uids[i] = list->msgs[i].uid;
	meta_buf_add(&out, "changed=");
	changedsince_set(&out, uids, list->count);
	meta_buf_add(&out, "&vanished=");
	changedsince_set(&out, list->vanished, list->nvanished);
	free(uids);
	return out.s;
}
