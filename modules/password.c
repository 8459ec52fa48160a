/* Argon2id password hashing through libsodium (see password.h). The
 * library is initialised on first use; sodium_init is idempotent. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "password.h"
#include "xmalloc.h"

static bool password_initialised;

static int
password_init(const char **error_r)
{
	if (password_initialised)
		return 0;
	if (sodium_init() < 0) {
		*error_r = "cannot initialise libsodium";
		return -1;
	}
	password_initialised = true;
	return 0;
}

/* A stored hash must be a NUL-terminated string shorter than the buffer
 * libsodium's verification functions are declared with. */
static bool
password_hash_plausible(const char *hash)
{
	return hash != NULL && hash[0] == '$' &&
	       strnlen(hash, crypto_pwhash_STRBYTES) < crypto_pwhash_STRBYTES;
}

int
password_hash(const char *password, char **hash_r, const char **error_r)
{
	char out[crypto_pwhash_STRBYTES];
	size_t len;

	*hash_r = NULL;
	if (password == NULL || password[0] == '\0') {
		*error_r = "empty password";
		return -1;
	}
	len = strnlen(password, PASSWORD_MAX_LENGTH + 1);
	if (len > PASSWORD_MAX_LENGTH) {
		*error_r = "password too long (more than 1024 bytes)";
		return -1;
	}
	if (password_init(error_r) < 0)
		return -1;
	if (crypto_pwhash_str_alg(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
		*error_r = "password hashing failed (out of memory)";
		return -1;
	}
	*hash_r = xstrdup(out);
	sodium_memzero(out, sizeof(out));
	return 0;
}

bool
password_verify(const char *hash, const char *password)
{
	const char *error;
	size_t len;

	if (!password_hash_plausible(hash) || password == NULL || password[0] == '\0')
		return false;
	len = strnlen(password, PASSWORD_MAX_LENGTH + 1);
	if (len > PASSWORD_MAX_LENGTH)
		return false;
	if (password_init(&error) < 0)
		return false;
	return crypto_pwhash_str_verify(hash, password, len) == 0;
}

bool
password_needs_rehash(const char *hash)
{
	const char *error;

	if (!password_hash_plausible(hash) || password_init(&error) < 0)
		return true;
	/* an Argon2i string with the same costs still has to become Argon2id */
	if (strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
	            strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
		return true;
	return crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}
