/* Unit test for modules/password.c: Argon2id hashing, verification,
 * rejection of bad input and the rehash predicate. */
#include <stdlib.h>
#include <string.h>

#include "password.h"
#include "tap.h"

int
main(void)
{
	char *hash = NULL, *hash2 = NULL, *long_pw;
	const char *error = NULL;

	is_int(password_hash("correct horse", &hash, &error), 0, "hash a password");
	ok(hash != NULL && strncmp(hash, "$argon2id$", 10) == 0, "hash is an Argon2id string: %s",
	   hash ? hash : "(null)");
	ok(password_verify(hash, "correct horse"), "right password verifies");
	ok(!password_verify(hash, "correct horsf"), "wrong password fails");
	ok(!password_verify(hash, ""), "empty password fails");
	ok(!password_verify(hash, NULL), "NULL password fails");
	ok(!password_needs_rehash(hash), "fresh hash needs no rehash");

	is_int(password_hash("correct horse", &hash2, &error), 0, "hash the same password again");
	ok(hash2 != NULL && strcmp(hash, hash2) != 0, "salts differ");
	ok(password_verify(hash2, "correct horse"), "second hash verifies too");
	free(hash2);
	hash2 = NULL;

	ok(!password_verify("garbage", "correct horse"), "garbage hash fails");
	ok(!password_verify("$argon2id$v=19$m=65536,t=2,p=1$xx$yy", "x"), "malformed hash fails");
	ok(!password_verify("", "correct horse"), "empty hash fails");
	ok(!password_verify(NULL, "correct horse"), "NULL hash fails");
	ok(password_needs_rehash("garbage"), "garbage hash needs rehash");
	ok(password_needs_rehash(NULL), "NULL hash needs rehash");
	ok(password_needs_rehash("$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
	                         "rQ0DdPsivXCLNx1Wt6EuDw4dlrdrKHJvFLZ5Dy+ZYDo"),
	   "hash with other costs needs rehash");

	long_pw = malloc(4096);
	memset(long_pw, 'a', 4095);
	long_pw[4095] = '\0';
	ok(!password_verify(hash, long_pw), "over-long password never verifies");

	error = NULL;
	is_int(password_hash("", &hash2, &error), -1, "empty password rejected");
	ok(hash2 == NULL && error != NULL && strstr(error, "empty") != NULL, "error: %s",
	   error ? error : "(null)");
	error = NULL;
	is_int(password_hash(long_pw, &hash2, &error), -1, "over-long password rejected");
	ok(hash2 == NULL && error != NULL && strstr(error, "too long") != NULL, "error: %s",
	   error ? error : "(null)");
	long_pw[PASSWORD_MAX_LENGTH] = '\0';
	is_int(password_hash(long_pw, &hash2, &error), 0,
	       "password of exactly 1024 bytes accepted");
	ok(password_verify(hash2, long_pw), "and verifies");
	free(hash2);
	free(long_pw);
	free(hash);
	return done_testing();
}
