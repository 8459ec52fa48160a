/* The pure parsers of SMTP submission and LMTP (RFC 5321 syntax, RFC 2033):
 * command lines split into verb and arguments, reverse and forward paths,
 * and the ESMTP parameters of MAIL. No I/O, no session: the commands in
 * mailflow/smtp-cmd.c and lmtp-commands.c call them, and so does the
 * fuzz target tests/fuzz/fuzz-smtp.c. */
#ifndef FLOE_SMTP_PARSE_H
#define FLOE_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with the brackets. */
#define SMTP_PATH_MAX 254

/* Splits a command line (len bytes, no line end) at the first blank
 * (space or tab): *verb_len_r gets the verb's length and the return value
 * points at the arguments, after leading blanks; *args_len_r is their
 * length without trailing blanks. Never fails. */
const char *smtp_split_command(const char *line, size_t len, size_t *verb_len_r,
                               size_t *args_len_r);

/* Submission: parses "<address>" at *p (after "FROM:"/"TO:", blanks
 * allowed before '<'): returns a copy of the address (the caller frees;
 * "" for <> when allow_empty) and moves *p past '>', or NULL with
 * *error_r. A source route is dropped; quoted local parts and characters
 * outside the dot-atom repertoire are refused. */
char *smtp_parse_path(const char **p, bool allow_empty, const char **error_r);

/* LMTP: parses keyword ("FROM:" or "TO:", any case) then "<path>", with
 * spaces allowed after the colon and quoted local parts accepted (the MTA
 * has already accepted the address). *addr_r gets the address (the caller
 * frees; source route dropped, "" for <>), *params_r what follows after
 * spaces. Returns 0, or -1 with a complete reply in *error_r. */
int lmtp_parse_path(const char *args, const char *keyword, char **addr_r, const char **params_r,
                    const char **error_r);

/* What MAIL FROM's ESMTP parameters said. */
struct smtp_mail_params {
	bool have_size;
	uint64_t size; /* SIZE=, UINT64_MAX when larger */
};
/* Parses the parameters after MAIL FROM:<...> (blank-separated): SIZE=n,
 * BODY=7BIT or BODY=8BITMIME, and, when allow_auth, AUTH=... (ignored).
 * Returns 0, or -1 with a complete reply ("501 5.5.4 Bad SIZE parameter",
 * "555 5.5.4 Unsupported MAIL FROM parameter X") in error (size bytes). */
int smtp_parse_mail_params(const char *p, bool allow_auth, struct smtp_mail_params *params_r,
                           char *error, size_t size);

#endif
