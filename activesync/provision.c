/* Provision (MS-ASPROV): the handshake that hands a device a temporary
 * policy key with the EASProvisionDoc, takes its acknowledgement and gives
 * the final key; DeviceInformation of 14.1+ stored on the way; the remote
 * wipe seam (RemoteWipe / AccountOnlyRemoteWipe when the device's
 * wipe_state says so, and its acknowledgement). The policy is the global
 * one from [eas]; eas_policy_effective is where the device-security issue
 * adds domain, user and device levels. */
#include <event2/buffer.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "eas-private.h"
#include "log.h"
#include "xmalloc.h"

#define POLICY_TYPE_WBXML "MS-EAS-Provisioning-WBXML"

void
eas_policy_init(struct eas_server *server)
{
	const struct floe_config *cfg = server->cfg;
	struct eas_policy *p = &server->policy;
	const char *mode = cfg->eas.provision_status;

	memset(p, 0, sizeof(*p));
	p->password_required = cfg->eas.policy_password_required;
	p->alphanumeric_password = cfg->eas.policy_alphanumeric_password;
	p->allow_simple_password = cfg->eas.policy_allow_simple_password;
	p->min_password_length = cfg->eas.policy_min_password_length;
	p->min_complex_characters = p->alphanumeric_password ? 1 : 0;
	p->max_inactivity = cfg->eas.policy_max_inactivity_ms / 1000;
	p->max_password_failures = cfg->eas.policy_max_password_failures;
	p->password_expiration = cfg->eas.policy_password_expiration_days;
	p->password_history = cfg->eas.policy_password_history;
	p->require_encryption = cfg->eas.policy_require_encryption;
	p->require_storage_card_encryption = cfg->eas.policy_require_encryption;
	p->allow_storage_card = cfg->eas.policy_allow_storage_card;
	p->allow_camera = cfg->eas.policy_allow_camera;
	p->allow_attachments = cfg->eas.policy_allow_attachments;
	p->allow_html_email = cfg->eas.policy_allow_html_email;
	p->allow_browser = true;
	p->allow_consumer_email = true;
	p->allow_bluetooth = true;
	p->max_attachment_size = cfg->eas.policy_max_attachment_size;
	p->max_email_age_filter = cfg->eas.policy_max_email_age_filter;
	p->max_calendar_age_filter = cfg->eas.policy_max_calendar_age_filter;
	p->refresh_interval = cfg->eas.policy_refresh_interval_ms / 1000;
	p->allow_non_provisionable = cfg->eas.allow_non_provisionable;
	eas_policy_hash(p, server->policy_hash);

	if (strcmp(mode, "449") == 0) {
		server->provision_mode = EAS_PROVMODE_449;
	} else if (strcmp(mode, "status") == 0) {
		server->provision_mode = EAS_PROVMODE_STATUS;
	} else {
		if (strcmp(mode, "both") != 0)
			log_error("[eas] provision_status = %s: expected 449, status or both; "
			          "using both",
			          mode);
		server->provision_mode = EAS_PROVMODE_BOTH;
	}
}

void
eas_policy_effective(const struct eas_request *req, struct eas_policy *policy_r)
{
	*policy_r = EAS_REQ(req)->server->policy;
}

void
eas_policy_hash(const struct eas_policy *p, char hash_r[17])
{
	char *text =
	    xasprintf("%d%d%d%u%u%u%u%u%u%d%d%d%d%d%d%d%d%d%" PRIu64 "%u%u", p->password_required,
	              p->alphanumeric_password, p->allow_simple_password, p->min_password_length,
	              p->min_complex_characters, p->max_inactivity, p->max_password_failures,
	              p->password_expiration, p->password_history, p->require_encryption,
	              p->require_storage_card_encryption, p->allow_storage_card, p->allow_camera,
	              p->allow_attachments, p->allow_html_email, p->allow_browser,
	              p->allow_consumer_email, p->allow_bluetooth, p->max_attachment_size,
	              p->max_email_age_filter, p->max_calendar_age_filter);

	eas_hash_text(text, hash_r);
	free(text);
}

/* --- The policy document --- */

static void
doc_bool(struct wbxml_writer *w, uint16_t tag, bool value)
{
	wbxml_uint(w, tag, value ? 1 : 0);
}

/* A limit: the number, or an empty element for "no limit". */
static void
doc_limit(struct wbxml_writer *w, uint16_t tag, uint64_t value)
{
	if (value == 0)
		wbxml_empty(w, tag);
	else
		wbxml_uint(w, tag, value);
}

static void
write_provision_doc(struct wbxml_writer *w, const struct eas_policy *p, unsigned version)
{
	wbxml_start(w, EAS_PROVISION_EASPROVISIONDOC);
	doc_bool(w, EAS_PROVISION_DEVICEPASSWORDENABLED, p->password_required);
	doc_bool(w, EAS_PROVISION_ALPHANUMERICDEVICEPASSWORDREQUIRED, p->alphanumeric_password);
	doc_bool(w, EAS_PROVISION_PASSWORDRECOVERYENABLED, false);
	doc_bool(w, EAS_PROVISION_REQUIRESTORAGECARDENCRYPTION, p->require_storage_card_encryption);
	doc_bool(w, EAS_PROVISION_ATTACHMENTSENABLED, p->allow_attachments);
	wbxml_uint(w, EAS_PROVISION_MINDEVICEPASSWORDLENGTH, p->min_password_length);
	doc_limit(w, EAS_PROVISION_MAXINACTIVITYTIMEDEVICELOCK, p->max_inactivity);
	doc_limit(w, EAS_PROVISION_MAXDEVICEPASSWORDFAILEDATTEMPTS, p->max_password_failures);
	doc_limit(w, EAS_PROVISION_MAXATTACHMENTSIZE, p->max_attachment_size);
	doc_bool(w, EAS_PROVISION_ALLOWSIMPLEDEVICEPASSWORD, p->allow_simple_password);
	doc_limit(w, EAS_PROVISION_DEVICEPASSWORDEXPIRATION, p->password_expiration);
	wbxml_uint(w, EAS_PROVISION_DEVICEPASSWORDHISTORY, p->password_history);
	if (version >= EAS_VERSION_121) {
		doc_bool(w, EAS_PROVISION_ALLOWSTORAGECARD, p->allow_storage_card);
		doc_bool(w, EAS_PROVISION_ALLOWCAMERA, p->allow_camera);
		doc_bool(w, EAS_PROVISION_REQUIREDEVICEENCRYPTION, p->require_encryption);
		doc_bool(w, EAS_PROVISION_ALLOWUNSIGNEDAPPLICATIONS, true);
		doc_bool(w, EAS_PROVISION_ALLOWUNSIGNEDINSTALLATIONPACKAGES, true);
		wbxml_uint(w, EAS_PROVISION_MINDEVICEPASSWORDCOMPLEXCHARACTERS,
		           p->min_complex_characters);
		doc_bool(w, EAS_PROVISION_ALLOWWIFI, true);
		doc_bool(w, EAS_PROVISION_ALLOWTEXTMESSAGING, true);
		doc_bool(w, EAS_PROVISION_ALLOWPOPIMAPEMAIL, true);
		/* 0 disabled, 1 hands-free only, 2 allowed */
		wbxml_uint(w, EAS_PROVISION_ALLOWBLUETOOTH, p->allow_bluetooth ? 2 : 0);
		doc_bool(w, EAS_PROVISION_ALLOWIRDA, true);
		doc_bool(w, EAS_PROVISION_REQUIREMANUALSYNCWHENROAMING, false);
		doc_bool(w, EAS_PROVISION_ALLOWDESKTOPSYNC, true);
		wbxml_uint(w, EAS_PROVISION_MAXCALENDARAGEFILTER, p->max_calendar_age_filter);
		doc_bool(w, EAS_PROVISION_ALLOWHTMLEMAIL, p->allow_html_email);
		wbxml_uint(w, EAS_PROVISION_MAXEMAILAGEFILTER, p->max_email_age_filter);
		/* -1: no truncation */
		wbxml_string(w, EAS_PROVISION_MAXEMAILBODYTRUNCATIONSIZE, "-1");
		wbxml_string(w, EAS_PROVISION_MAXEMAILHTMLBODYTRUNCATIONSIZE, "-1");
		doc_bool(w, EAS_PROVISION_REQUIRESIGNEDSMIMEMESSAGES, false);
		doc_bool(w, EAS_PROVISION_REQUIREENCRYPTEDSMIMEMESSAGES, false);
		wbxml_uint(w, EAS_PROVISION_REQUIRESIGNEDSMIMEALGORITHM, 0);
		wbxml_uint(w, EAS_PROVISION_REQUIREENCRYPTIONSMIMEALGORITHM, 0);
		/* 2: negotiation allowed */
		wbxml_uint(w, EAS_PROVISION_ALLOWSMIMEENCRYPTIONALGORITHMNEGOTIATION, 2);
		doc_bool(w, EAS_PROVISION_ALLOWSMIMESOFTCERTS, true);
		doc_bool(w, EAS_PROVISION_ALLOWBROWSER, p->allow_browser);
		doc_bool(w, EAS_PROVISION_ALLOWCONSUMEREMAIL, p->allow_consumer_email);
		doc_bool(w, EAS_PROVISION_ALLOWREMOTEDESKTOP, true);
		doc_bool(w, EAS_PROVISION_ALLOWINTERNETSHARING, true);
		wbxml_empty(w, EAS_PROVISION_UNAPPROVEDINROMAPPLICATIONLIST);
		wbxml_empty(w, EAS_PROVISION_APPROVEDAPPLICATIONLIST);
	}
	wbxml_end(w);
}

/* --- The command --- */

enum prov_step {
	PROV_INFO,  /* storing DeviceInformation */
	PROV_OFFER, /* storing the temporary key */
	PROV_ACK,   /* turning it into the final key */
	PROV_WIPE,  /* marking the wipe as sent */
	PROV_WIPEACK,
};

struct prov {
	struct eas_request *req;
	struct store_op *op;
	bool device_info; /* the request carried DeviceInformation */
	const struct wbxml_node *policy;
	uint32_t key; /* offered temporary key or final key */
	int ack_status;
	int wipe_status;
	enum prov_step step;
};

static void prov_next(struct prov *p);

static void
prov_reply_begin(struct prov *p, struct wbxml_writer *w, unsigned status)
{
	wbxml_start(w, EAS_PROVISION_PROVISION);
	wbxml_uint(w, EAS_PROVISION_STATUS, status);
	if (p->device_info) {
		wbxml_start(w, EAS_SETTINGS_DEVICEINFORMATION);
		wbxml_uint(w, EAS_SETTINGS_STATUS, 1);
		wbxml_end(w);
	}
}

static void
prov_send(struct prov *p, struct evbuffer *out, struct wbxml_writer **w)
{
	struct eas_request *req = p->req;

	wbxml_writer_finish(w);
	free(p);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

/* Provision Status 1 with one Policy (policy Status, key, and the
 * document on an offer). */
static void
prov_reply_policy(struct prov *p, unsigned policy_status, bool with_key, bool with_doc)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_policy policy;

	prov_reply_begin(p, w, 1);
	wbxml_start(w, EAS_PROVISION_POLICIES);
	wbxml_start(w, EAS_PROVISION_POLICY);
	wbxml_string(w, EAS_PROVISION_POLICYTYPE, POLICY_TYPE_WBXML);
	wbxml_uint(w, EAS_PROVISION_STATUS, policy_status);
	if (with_key)
		wbxml_uint(w, EAS_PROVISION_POLICYKEY, p->key);
	if (with_doc) {
		eas_policy_effective(p->req, &policy);
		wbxml_start(w, EAS_PROVISION_DATA);
		write_provision_doc(w, &policy, p->req->version);
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_end(w);
	wbxml_end(w);
	prov_send(p, out, &w);
}

static void
prov_reply_wipe(struct prov *p, bool account_only)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);

	prov_reply_begin(p, w, 1);
	wbxml_empty(w,
	            account_only ? EAS_PROVISION_ACCOUNTONLYREMOTEWIPE : EAS_PROVISION_REMOTEWIPE);
	wbxml_end(w);
	prov_send(p, out, &w);
}

static void
prov_reply_status(struct prov *p, unsigned status)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);

	prov_reply_begin(p, w, status);
	wbxml_end(w);
	prov_send(p, out, &w);
}

static void
prov_fail(struct prov *p, const char *error)
{
	eas_log(p->req, "provisioning failed: %s", error);
	prov_reply_status(p, 3); /* general server error */
}

static uint32_t
prov_random_key(uint32_t avoid)
{
	uint32_t k;

	do {
		k = randombytes_random();
	} while (k == 0 || k == avoid);
	return k;
}

static void
prov_done(enum store_err code, const char *error, void *ctx)
{
	struct prov *p = ctx;
	const struct store_device *dev = eas_request_device(p->req);

	p->op = NULL;
	switch (p->step) {
	case PROV_INFO:
		if (code != STORE_OK) {
			prov_fail(p, error);
			return;
		}
		p->step = PROV_OFFER;
		prov_next(p);
		return;
	case PROV_OFFER:
		if (code != STORE_OK) {
			prov_fail(p, error);
			return;
		}
		eas_log(p->req, "policy offered, temporary key %" PRIu32, p->key);
		prov_reply_policy(p, 1, true, true);
		return;
	case PROV_ACK:
		if (code == STORE_ERR_NOT_FOUND) {
			eas_log(p->req, "acknowledgement of an unknown policy key");
			/* 5: the client acknowledged the wrong policy key */
			prov_reply_policy(p, 5, false, false);
			return;
		}
		if (code != STORE_OK) {
			prov_fail(p, error);
			return;
		}
		eas_log(p->req, "policy acknowledged (status %d), final key %" PRIu32,
		        p->ack_status, p->key);
		prov_reply_policy(p, 1, true, false);
		return;
	case PROV_WIPE:
		if (code != STORE_OK) {
			prov_fail(p, error);
			return;
		}
		eas_log(p->req, "remote wipe sent (%s)", dev->wipe_state);
		prov_reply_wipe(p, strcmp(dev->wipe_state, "account_pending") == 0 &&
		                       p->req->version >= EAS_VERSION_161);
		return;
	case PROV_WIPEACK:
		if (code != STORE_OK) {
			prov_fail(p, error);
			return;
		}
		eas_log(p->req, "remote wipe acknowledged with status %d", p->wipe_status);
		prov_reply_status(p, 1);
		return;
	}
}

/* After DeviceInformation: the policy part of the request. */
static void
prov_next(struct prov *p)
{
	struct eas_request *req = p->req;
	const struct store_device *dev = eas_request_device(req);
	const char *type = wbxml_child_text(p->policy, EAS_PROVISION_POLICYTYPE);
	const struct wbxml_node *keyn = wbxml_child(p->policy, EAS_PROVISION_POLICYKEY);
	struct eas_policy policy;
	uint64_t v;

	if (strcmp(dev->wipe_state, "pending") == 0 ||
	    strcmp(dev->wipe_state, "account_pending") == 0 ||
	    strcmp(dev->wipe_state, "sent") == 0) {
		/* The wipe goes out until the device acknowledges it. */
		p->step = PROV_WIPE;
		p->op = store_device_wipe_sent(req->store, req->account_id, dev->id, prov_done, p);
		return;
	}
	if (type == NULL || strcmp(type, POLICY_TYPE_WBXML) != 0) {
		eas_log(req, "unsupported PolicyType %s", type != NULL ? type : "(none)");
		/* 3: unknown PolicyType */
		prov_reply_policy(p, 3, false, false);
		return;
	}
	if (keyn == NULL) {
		p->step = PROV_OFFER;
		p->key = prov_random_key(dev->policy_key);
		p->op = store_device_policy_offer(req->store, req->account_id, dev->id, p->key,
		                                  prov_done, p);
		return;
	}
	if (wbxml_child_uint(p->policy, EAS_PROVISION_POLICYKEY, &v) != 0 || v == 0 ||
	    v > UINT32_MAX || wbxml_child_uint(p->policy, EAS_PROVISION_STATUS, &v) != 0 || v < 1 ||
	    v > 4) {
		prov_reply_status(p, 2); /* protocol error */
		return;
	}
	p->ack_status = (int)v;
	eas_policy_effective(req, &policy);
	if (p->ack_status != 1 && !policy.allow_non_provisionable) {
		eas_log(req, "device did not apply the policy (status %d)", p->ack_status);
		/* 139: the device could not be fully provisioned */
		prov_reply_status(p, 139);
		return;
	}
	{
		uint64_t temp = 0;

		wbxml_child_uint(p->policy, EAS_PROVISION_POLICYKEY, &temp);
		p->step = PROV_ACK;
		p->key = prov_random_key((uint32_t)temp);
		p->op = store_device_policy_ack(req->store, req->account_id, dev->id,
		                                (uint32_t)temp, p->key, p->ack_status,
		                                req->server->policy_hash, prov_done, p);
	}
}

static void
prov_abort(struct eas_request *req, void *ctx)
{
	struct prov *p = ctx;

	store_op_abandon(&p->op);
	free(p);
}

void
eas_cmd_provision(struct eas_request *req)
{
	const struct wbxml_node *root = req->body, *wipe, *info;
	struct prov *p;

	if (root == NULL || root->tag != EAS_PROVISION_PROVISION) {
		eas_respond_status(req, 200, 2);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	eas_request_set_abort(req, prov_abort, p);
	wipe = wbxml_child(root, EAS_PROVISION_REMOTEWIPE);
	if (wipe == NULL)
		wipe = wbxml_child(root, EAS_PROVISION_ACCOUNTONLYREMOTEWIPE);
	if (wipe != NULL) {
		uint64_t st = 0;

		if (wbxml_child_uint(wipe, EAS_PROVISION_STATUS, &st) != 0) {
			prov_reply_status(p, 2);
			return;
		}
		p->wipe_status = (int)st;
		p->step = PROV_WIPEACK;
		p->op = store_device_wipe_ack(req->store, req->account_id, req->device->id,
		                              p->wipe_status, prov_done, p);
		return;
	}
	p->policy = wbxml_child(wbxml_child(root, EAS_PROVISION_POLICIES), EAS_PROVISION_POLICY);
	if (p->policy == NULL) {
		prov_reply_status(p, 2);
		return;
	}
	info = wbxml_child(wbxml_child(root, EAS_SETTINGS_DEVICEINFORMATION), EAS_SETTINGS_SET);
	if (info != NULL) {
		struct store_device_info di;

		p->device_info = true;
		eas_device_info_parse(info, &di);
		p->step = PROV_INFO;
		p->op = store_device_set_info(req->store, req->account_id, req->device->id, &di,
		                              prov_done, p);
		return;
	}
	prov_next(p);
}
