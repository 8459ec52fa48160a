/* server/base64.c: RFC 4648 test vectors, both decoding modes, the
 * evbuffer encoder and every malformed-input class. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "tap.h"

static void
check_decode(const char *text, enum base64_mode mode, const char *want, const char *what)
{
	unsigned char *data;
	size_t len;
	int r = base64_decode(text, strlen(text), mode, &data, &len);

	if (want == NULL) {
		is_int(r, -1, "%s: refused", what);
		if (r == 0)
			free(data);
		return;
	}
	is_int(r, 0, "%s: decodes", what);
	if (r == 0) {
		ok(len == strlen(want) && memcmp(data, want, len) == 0, "%s: \"%s\"", what, want);
		is_int(data[len], 0, "%s: NUL after the data", what);
		free(data);
	}
}

int
main(void)
{
	/* RFC 4648 section 10. */
	static const char *const vectors[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	struct evbuffer *buf = evbuffer_new();
	unsigned char big[1000];
	char *enc;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		enc = base64_encode(vectors[i][0], strlen(vectors[i][0]));
		is_str(enc, vectors[i][1], "encode \"%s\"", vectors[i][0]);
		free(enc);
		check_decode(vectors[i][1], BASE64_STRICT, vectors[i][0], "strict vector");
		check_decode(vectors[i][1], BASE64_LENIENT, vectors[i][0], "lenient vector");
	}

	check_decode("Zg", BASE64_STRICT, NULL, "strict: missing padding");
	check_decode("Zg", BASE64_LENIENT, "f", "lenient: padding optional");
	check_decode("Zm9v\r\nYmFy", BASE64_STRICT, NULL, "strict: line break");
	check_decode(" Zm9v\r\nYmFy\n", BASE64_LENIENT, "foobar", "lenient: whitespace");
	check_decode("Zg===", BASE64_LENIENT, NULL, "too much padding");
	check_decode("Zg=a", BASE64_LENIENT, NULL, "data after padding");
	check_decode("Zm9=Zm9=", BASE64_STRICT, NULL, "padding in the middle");
	check_decode("Z", BASE64_LENIENT, NULL, "a single digit");
	check_decode("Zh==", BASE64_STRICT, NULL, "non-zero leftover bits");
	check_decode("Zm9v!", BASE64_LENIENT, NULL, "character outside the alphabet");
	check_decode("Zm8", BASE64_LENIENT, "fo", "lenient: three digits");
	check_decode("Zm8=", BASE64_STRICT, "fo", "strict: one pad");

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7);
	enc = base64_encode(big, sizeof(big));
	base64_encode_evbuffer(buf, big, sizeof(big));
	is_int(evbuffer_get_length(buf), strlen(enc), "evbuffer encoder: same length");
	ok(memcmp(evbuffer_pullup(buf, -1), enc, strlen(enc)) == 0,
	   "evbuffer encoder: same text across its internal chunks");
	{
		unsigned char *data;
		size_t len;

		ok(base64_decode(enc, strlen(enc), BASE64_STRICT, &data, &len) == 0 &&
		       len == sizeof(big) && memcmp(data, big, len) == 0,
		   "1000 binary bytes round trip");
		free(data);
	}
	free(enc);
	evbuffer_free(buf);
	done_testing();
}
