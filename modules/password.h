/* Password hashing for Floe accounts: Argon2id strings as produced by
 * libsodium's crypto_pwhash_str, the form stored in credentials.secret.
 * Hashing costs tens of milliseconds and ~64 MiB: never call it on a
 * worker's event loop thread with many requests waiting. */
#ifndef FLOE_PASSWORD_H
#define FLOE_PASSWORD_H

#include <stdbool.h>

/* Longest password accepted, in bytes. */
#define PASSWORD_MAX_LENGTH 1024

/* Hashes password with Argon2id (libsodium's interactive limits). Returns 0
 * with *hash_r set to a newly allocated "$argon2id$..." string the caller
 * frees, or -1 with *error_r set (static text) when the password is empty,
 * longer than PASSWORD_MAX_LENGTH, or libsodium fails (out of memory). */
int password_hash(const char *password, char **hash_r, const char **error_r);

/* True when password matches hash. False for a wrong password and for any
 * hash that is not a valid Argon2 string (NULL, empty, garbage, too long). */
bool password_verify(const char *hash, const char *password);

/* True when hash was made with other parameters than password_hash uses now
 * (or is not a valid hash at all), so it should be replaced after the next
 * successful login. */
bool password_needs_rehash(const char *hash);

#endif
