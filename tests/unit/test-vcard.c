/* Unit tests of modules/vcard.c: the examples of RFC 6350 (section by
 * section) and RFC 2426, RFC 6868 parameter encoding, folding, byte-stable
 * round trips, the index accessors, building cards, and each class of
 * malformed input. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vcard.h"

#define V4(body) "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Test\r\n" body "END:VCARD\r\n"

static struct vcard *
parse(const char *text)
{
	const char *error = NULL;
	struct vcard *card = vcard_parse(text, strlen(text), &error);

	if (card == NULL)
		printf("# parse error: %s\n", error);
	return card;
}

/* Parses text and checks that it is written back byte for byte. */
static struct vcard *
stable(const char *text, const char *what)
{
	struct vcard *card = parse(text);
	char *out;

	ok(card != NULL, "%s: parses", what);
	if (card == NULL)
		return NULL;
	out = vcard_write(card, NULL);
	is_str(out, text, "%s: written back byte for byte", what);
	free(out);
	return card;
}

/* Expects a parse error containing want. */
static void
refused(const char *text, const char *want, const char *what)
{
	const char *error = NULL;
	struct vcard *card = vcard_parse(text, strlen(text), &error);

	ok(card == NULL, "%s: refused", what);
	ok(error != NULL && strstr(error, want) != NULL, "%s: error \"%s\" names \"%s\"", what,
	   error != NULL ? error : "(none)", want);
	vcard_free(&card);
}

static const char *
value_of(const struct vcard *card, const char *name)
{
	const struct vcard_prop *p = vcard_find(card, name);

	return p != NULL ? p->value : NULL;
}

static void
test_rfc6350_folding(void)
{
	/* 3.2: a long line folded; unfolding joins without the space. */
	const char *text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n"
	                   "NOTE:This is a long description that exists o\r\n"
	                   " n a long line.\r\n"
	                   "END:VCARD\r\n";
	struct vcard *card = parse(text);
	char long_line[300], *out, *expect;
	size_t len;

	ok(card != NULL, "3.2 folded NOTE parses");
	is_str(value_of(card, "NOTE"), "This is a long description that exists on a long line.",
	       "3.2 unfolded");
	vcard_free(&card);

	/* Folding at 75 octets, never inside a UTF-8 sequence. */
	memset(long_line, 0, sizeof(long_line));
	strcpy(long_line, "NOTE:");
	for (int i = 0; i < 60; i++)
		strcat(long_line, "\xc3\xa9"); /* e-acute, two octets */
	card = vcard_new(VCARD_V4);
	vcard_add(card, NULL, "FN", "x");
	vcard_add(card, NULL, "NOTE", long_line + 5);
	out = vcard_write(card, &len);
	expect = NULL;
	{
		/* "NOTE:" + 35 e-acute = 75 octets; then " " + 37 = 75; rest. */
		char buf[512] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nNOTE:";
		for (int i = 0; i < 35; i++)
			strcat(buf, "\xc3\xa9");
		strcat(buf, "\r\n ");
		for (int i = 0; i < 25; i++)
			strcat(buf, "\xc3\xa9");
		strcat(buf, "\r\nEND:VCARD\r\n");
		expect = buf;
		is_str(out, expect, "folding at 75 octets keeps UTF-8 sequences whole");
	}
	{
		/* Odd boundary: one ASCII byte shifts the sequences. */
		char buf[512] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nNOTE:a";
		struct vcard *c2 = vcard_new(VCARD_V4);
		char val[200] = "a", *o2;

		for (int i = 0; i < 40; i++)
			strcat(val, "\xc3\xa9");
		vcard_add(c2, NULL, "FN", "x");
		vcard_add(c2, NULL, "NOTE", val);
		o2 = vcard_write(c2, NULL);
		for (int i = 0; i < 34; i++)
			strcat(buf, "\xc3\xa9");
		strcat(buf, "\r\n ");
		for (int i = 0; i < 6; i++)
			strcat(buf, "\xc3\xa9");
		strcat(buf, "\r\nEND:VCARD\r\n");
		is_str(o2, buf, "a fold moves back rather than split a sequence");
		free(o2);
		vcard_free(&c2);
	}
	ok(len == strlen(out), "length reported");
	vcard_free(&card);
	card = parse(out);
	ok(card != NULL && strcmp(value_of(card, "NOTE"), long_line + 5) == 0,
	   "refolded value reads back");
	vcard_free(&card);
	free(out);

	/* LF-only input and tab continuation are accepted; output is CRLF. */
	card = parse("BEGIN:VCARD\nVERSION:4.0\nFN:Jo\n\thn\nEND:VCARD\n");
	ok(card != NULL, "LF line ends and a tab continuation");
	is_str(value_of(card, "FN"), "John", "tab continuation unfolded");
	out = vcard_write(card, NULL);
	is_str(out, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:John\r\nEND:VCARD\r\n", "written with CRLF");
	free(out);
	vcard_free(&card);
}

static void
test_rfc6350_params(void)
{
	struct vcard *card;
	const struct vcard_prop *p;
	const struct vcard_param *par;

	/* 5.1 LANGUAGE */
	card = stable(V4("ROLE;LANGUAGE=tr:hoca\r\n"), "5.1 LANGUAGE");
	p = vcard_find(card, "ROLE");
	par = p != NULL ? vcard_prop_param(p, "language") : NULL;
	ok(par != NULL && par->nvalues == 1 && strcmp(par->values[0], "tr") == 0,
	   "5.1 LANGUAGE=tr");
	vcard_free(&card);

	/* 5.4 ALTID */
	card = stable(V4("TITLE;ALTID=1;LANGUAGE=fr:Patron\r\n"
	                 "TITLE;ALTID=1;LANGUAGE=en:Boss\r\n"),
	              "5.4 ALTID");
	ok(card != NULL && card->nprops == 4 && strcmp(card->props[3].value, "Boss") == 0,
	   "5.4 both TITLEs kept in order");
	vcard_free(&card);

	/* 5.5 PID, multiple values */
	card = stable(V4("EMAIL;PID=4.1,5.2:jdoe@example.com\r\n"), "5.5 PID");
	p = vcard_find(card, "EMAIL");
	par = p != NULL ? vcard_prop_param(p, "PID") : NULL;
	ok(par != NULL && par->nvalues == 2 && strcmp(par->values[1], "5.2") == 0,
	   "5.5 PID has two values");
	vcard_free(&card);

	/* 5.6 TYPE, quoted list */
	card = stable(V4("TEL;VALUE=uri;PREF=1;TYPE=\"voice,home\":tel:+1-555-555-5555;ext=5555\r\n"
	                 "TEL;VALUE=uri;TYPE=home:tel:+33-01-23-45-67\r\n"),
	              "6.4.1 TEL");
	p = vcard_find(card, "TEL");
	ok(p != NULL && vcard_prop_has_type(p, "home") && vcard_prop_has_type(p, "VOICE") &&
	       !vcard_prop_has_type(p, "work"),
	   "quoted TYPE list: voice and home");
	vcard_free(&card);

	/* 5.9 SORT-AS */
	card = stable(V4("N;SORT-AS=\"Harten,Rene\":van der Harten;Rene,J.;Sir;R.D.O.N.\r\n"),
	              "5.9 SORT-AS");
	p = vcard_find(card, "N");
	par = p != NULL ? vcard_prop_param(p, "SORT-AS") : NULL;
	ok(par != NULL && par->nvalues == 1 && strcmp(par->values[0], "Harten,Rene") == 0,
	   "5.9 quoted value keeps its comma");
	vcard_free(&card);

	/* 5.10 GEO parameter, 5.11 TZ parameter */
	card = stable(V4("ADR;GEO=\"geo:12.3457,78.910\":;;123 Main Street;Any Town;CA;91921-1234;"
	                 "U.S.A\r\n .\r\n"),
	              "5.10 GEO parameter");
	vcard_free(&card);

	/* RFC 6868: ^n newline, ^' quote, ^^ caret; the example of section 4. */
	card = parse(V4("GEO;X-ADDRESS=\"Pittsburgh Pirates^n115 Federal St^nPitt\r\n"
	                " sburgh, PA 15212\":geo:40.446816,-80.00566\r\n"
	                "X-FOO;X-T=\"^'q^' ^^x\":v\r\n"));
	ok(card != NULL, "RFC 6868 example parses");
	p = card != NULL ? vcard_find(card, "GEO") : NULL;
	par = p != NULL ? vcard_prop_param(p, "X-ADDRESS") : NULL;
	ok(par != NULL && strcmp(par->values[0],
	                         "Pittsburgh Pirates\n115 Federal St\nPittsburgh, PA 15212") == 0,
	   "RFC 6868 ^n decoded");
	p = card != NULL ? vcard_find(card, "X-FOO") : NULL;
	par = p != NULL ? vcard_prop_param(p, "X-T") : NULL;
	ok(par != NULL && strcmp(par->values[0], "\"q\" ^x") == 0, "RFC 6868 ^' and ^^ decoded");
	vcard_free(&card);

	/* In 3.0 the caret is an ordinary character. */
	card = parse("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nX-A;X-B=a^nb:c\r\nEND:VCARD\r\n");
	p = card != NULL ? vcard_find(card, "X-A") : NULL;
	ok(p != NULL && strcmp(p->params[0].values[0], "a^nb") == 0, "no RFC 6868 in 3.0");
	vcard_free(&card);
}

static void
test_rfc6350_properties(void)
{
	struct vcard *card;
	struct vcard_index idx;
	char **parts;
	size_t n;

	/* 6.1.4 KIND */
	card = stable("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:individual\r\nFN:Jane Doe\r\n"
	              "ORG:ABC\\, Inc.;North American Division;Marketing\r\nEND:VCARD\r\n",
	              "6.1.4 KIND individual");
	vcard_index_get(card, &idx);
	is_str(idx.kind, "individual", "6.1.4 kind");
	is_str(idx.org, "ABC, Inc.", "6.4.4 ORG first component unescaped");
	vcard_index_clear(&idx);
	vcard_free(&card);
	card = stable("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:org\r\nFN:ABC Marketing\r\n"
	              "ORG:ABC\\, Inc.;North American Division;Marketing\r\nEND:VCARD\r\n",
	              "6.1.4 KIND org");
	vcard_index_get(card, &idx);
	is_str(idx.kind, "org", "6.1.4 kind org");
	vcard_index_clear(&idx);
	vcard_free(&card);

	/* 6.2.2 N */
	card = stable(V4("N:Stevenson;John;Philip,Paul;Dr.;Jr.,M.D.,A.C.P.\r\n"), "6.2.2 N");
	vcard_index_get(card, &idx);
	is_str(idx.n_family, "Stevenson", "6.2.2 family");
	is_str(idx.n_given, "John", "6.2.2 given");
	is_str(idx.n_additional, "Philip,Paul", "6.2.2 additional");
	is_str(idx.n_suffix, "Jr.,M.D.,A.C.P.", "6.2.2 suffix");
	vcard_index_clear(&idx);
	parts = vcard_split("Philip,Paul", ',', &n);
	ok(n == 2 && strcmp(parts[1], "Paul") == 0, "list split at commas");
	vcard_strv_free(&parts);
	vcard_free(&card);

	/* 6.2.3 NICKNAME, 6.2.4 PHOTO, 6.2.7 GENDER */
	card = stable(V4("NICKNAME:Jim,Jimmie\r\nNICKNAME;TYPE=work:Boss\r\n"
	                 "PHOTO:http://www.example.com/pub/photos/jqpublic.gif\r\n"
	                 "GENDER:M\r\nGENDER:O;intersex\r\nGENDER:;it's complicated\r\n"),
	              "6.2.3 NICKNAME, 6.2.4 PHOTO, 6.2.7 GENDER");
	vcard_free(&card);

	/* 6.2.5 BDAY forms */
	{
		static const struct {
			const char *line;
			bool has;
			int y, m, d;
		} bd[] = {
		    {"BDAY:19960415\r\n", true, 1996, 4, 15},
		    {"BDAY:--0415\r\n", true, 0, 4, 15},
		    {"BDAY:19531015T231000Z\r\n", true, 1953, 10, 15},
		    {"BDAY;VALUE=text:circa 1800\r\n", false, 0, 0, 0},
		};
		for (size_t i = 0; i < sizeof(bd) / sizeof(bd[0]); i++) {
			char text[256];

			snprintf(text, sizeof(text), V4("%s"), bd[i].line);
			card = stable(text, "6.2.5 BDAY");
			vcard_index_get(card, &idx);
			ok(idx.has_bday == bd[i].has && idx.bday_year == bd[i].y &&
			       idx.bday_month == bd[i].m && idx.bday_day == bd[i].d,
			   "6.2.5 BDAY %zu: %d %d-%d-%d", i, idx.has_bday, idx.bday_year,
			   idx.bday_month, idx.bday_day);
			vcard_index_clear(&idx);
			vcard_free(&card);
		}
	}

	/* 6.3.1 ADR, folded across components */
	card = parse(V4("ADR;GEO=\"geo:12.3457,78.910\":;;123 Main Street;Any Town;CA\r\n"
	                " ;91921-1234;U.S.A.\r\n"));
	ok(card != NULL, "6.3.1 ADR parses");
	parts = card != NULL ? vcard_split(vcard_find(card, "ADR")->value, ';', &n) : NULL;
	ok(parts != NULL && n == 7 && strcmp(parts[2], "123 Main Street") == 0 &&
	       strcmp(parts[5], "91921-1234") == 0,
	   "6.3.1 ADR has seven components");
	vcard_strv_free(&parts);
	vcard_free(&card);

	/* 6.4.2 EMAIL, 6.4.3 IMPP, 6.4.4 LANG */
	card = stable(
	    V4("EMAIL;TYPE=work:jqpublic@xyz.example.com\r\n"
	       "EMAIL;PREF=1:jane_doe@example.com\r\n"
	       "IMPP;PREF=1:xmpp:alice@example.com\r\n"
	       "LANG;TYPE=work;PREF=1:en\r\nLANG;TYPE=work;PREF=2:fr\r\nLANG;TYPE=home:fr\r\n"),
	    "6.4.2 EMAIL, 6.4.3 IMPP, 6.4.4 LANG");
	vcard_index_get(card, &idx);
	ok(idx.nemails == 2 && strcmp(idx.emails[0], "jane_doe@example.com") == 0 &&
	       strcmp(idx.emails[1], "jqpublic@xyz.example.com") == 0,
	   "6.4.2 the PREF=1 address comes first");
	vcard_index_clear(&idx);
	vcard_free(&card);

	/* 6.5 TZ and GEO; 6.6 organizational properties */
	card = stable(
	    V4("TZ:Raleigh/North America\r\nTZ;VALUE=utc-offset:-0500\r\n"
	       "TZ;VALUE=uri:https://example.com/tz-database/America/New_York\r\n"
	       "GEO:geo:37.386013,-122.082932\r\nTITLE:Research Scientist\r\n"
	       "ROLE:Project Leader\r\n"
	       "LOGO:http://www.example.com/pub/logos/abccorp.jpg\r\n"
	       "RELATED;TYPE=friend:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\r\n"
	       "RELATED;TYPE=co-worker;VALUE=text:Please contact my assistant Jane Doe for \r\n"
	       " any inquiries.\r\n"),
	    "6.5, 6.6");
	vcard_free(&card);

	/* 6.6.5 MEMBER: the two group examples */
	card = stable("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:The Doe family\r\n"
	              "MEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af\r\n"
	              "MEMBER:urn:uuid:b8767877-b4a1-4c70-9acc-505d3819e519\r\nEND:VCARD\r\n",
	              "6.6.5 group of uuids");
	vcard_index_get(card, &idx);
	ok(idx.nmembers == 2 && strcmp(idx.kind, "group") == 0 &&
	       strcmp(idx.members[1], "urn:uuid:b8767877-b4a1-4c70-9acc-505d3819e519") == 0,
	   "6.6.5 members listed");
	vcard_index_clear(&idx);
	vcard_free(&card);
	card =
	    stable("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Funky distribution list\r\n"
	           "MEMBER:mailto:subscriber1@example.com\r\n"
	           "MEMBER:xmpp:subscriber2@example.com\r\nMEMBER:sip:subscriber3@example.com\r\n"
	           "MEMBER:tel:+1-418-555-5555\r\nEND:VCARD\r\n",
	           "6.6.5 funky distribution list");
	vcard_index_get(card, &idx);
	is_int(idx.nmembers, 4, "6.6.5 four members");
	vcard_index_clear(&idx);
	vcard_free(&card);

	/* 6.7 explanatory properties */
	card = stable(V4("CATEGORIES:INTERNET,IETF,INDUSTRY,INFORMATION TECHNOLOGY\r\n"
	                 "NOTE:This fax number is operational 0800 to 1715\\n EST\\, Mon-Fri.\r\n"
	                 "PRODID:-//ONLINE DIRECTORY//NONSGML Version 1//EN\r\n"
	                 "REV:19951031T222710Z\r\n"
	                 "SOUND:CID:JOHNQPUBLIC.part8.19960229T080000.xyzMail@example.com\r\n"
	                 "UID:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\r\n"
	                 "TEL;PID=3.1,4.2;VALUE=uri:tel:+1-555-555-5555\r\n"
	                 "EMAIL;PID=4.1,5.2:jdoe@example.com\r\n"
	                 "CLIENTPIDMAP:1;urn:uuid:3df403f4-5924-4bb7-b077-3c711d9eb34b\r\n"
	                 "CLIENTPIDMAP:2;urn:uuid:d89c9c7a-2e1b-4832-82de-7e992d95faa5\r\n"
	                 "URL:http://example.org/restaurant.french/~chezchic.html\r\n"
	                 "KEY;MEDIATYPE=application/pgp-keys:ftp://example.com/keys/jdoe\r\n"
	                 "FBURL;PREF=1:http://www.example.com/busy/janedoe\r\n"
	                 "CALADRURI;PREF=1:mailto:janedoe@example.com\r\n"
	                 "CALURI;MEDIATYPE=text/calendar:ftp://ftp.example.com/calA.ics\r\n"),
	              "6.7 to 6.9");
	vcard_index_get(card, &idx);
	ok(idx.ncategories == 4 && strcmp(idx.categories[3], "INFORMATION TECHNOLOGY") == 0,
	   "6.7.1 categories");
	is_str(idx.uid, "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "6.7.6 UID");
	ok(idx.ntels == 1 && strcmp(idx.tels[0], "+1-555-555-5555") == 0, "tel: URI stripped");
	vcard_index_clear(&idx);
	{
		const struct vcard_prop *note = vcard_find(card, "NOTE");
		char *t = vcard_text_unescape(note->value, strlen(note->value));

		is_str(t, "This fax number is operational 0800 to 1715\n EST, Mon-Fri.",
		       "6.7.2 NOTE unescaped");
		free(t);
	}
	vcard_free(&card);
}

static void
test_rfc6350_example(void)
{
	/* Section 8. */
	const char *text =
	    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Simon Perreault\r\n"
	    "N:Perreault;Simon;;;ing. jr,M.Sc.\r\nBDAY:--0203\r\n"
	    "ANNIVERSARY:20090808T1430-0500\r\nGENDER:M\r\nLANG;PREF=1:fr\r\n"
	    "LANG;PREF=2:en\r\nORG;TYPE=work:Viagenie\r\n"
	    "ADR;TYPE=work:;Suite D2-630;2875 Laurier;\r\n"
	    " Quebec;QC;G1V 2M2;Canada\r\n"
	    "TEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+1-418-656-9254;ext=102\r\n"
	    "TEL;VALUE=uri;TYPE=\"work,cell,voice,video,text\":tel:+1-418-262-6501\r\n"
	    "EMAIL;TYPE=work:simon.perreault@viagenie.ca\r\n"
	    "GEO;TYPE=work:geo:46.772673,-71.282945\r\n"
	    "KEY;TYPE=work;VALUE=uri:\r\n"
	    " http://www.viagenie.ca/simon.perreault/simon.asc\r\n"
	    "TZ:-0500\r\nURL;TYPE=home:http://nomis80.org\r\nEND:VCARD\r\n";
	struct vcard *card = parse(text), *again;
	struct vcard_index idx;
	char *out, *out2;

	ok(card != NULL, "section 8 example parses");
	if (card == NULL)
		return;
	is_int(card->version, VCARD_V4, "version 4.0");
	is_int(card->nprops, 17, "17 properties besides BEGIN/END");
	vcard_index_get(card, &idx);
	is_str(idx.fn, "Simon Perreault", "FN");
	is_str(idx.n_family, "Perreault", "N family");
	is_str(idx.n_suffix, "ing. jr,M.Sc.", "N suffixes");
	ok(idx.has_bday && idx.bday_year == 0 && idx.bday_month == 2 && idx.bday_day == 3,
	   "BDAY --0203");
	ok(idx.ntels == 2 && strcmp(idx.tels[0], "+1-418-656-9254;ext=102") == 0,
	   "preferred TEL first");
	ok(idx.nemails == 1 && strcmp(idx.emails[0], "simon.perreault@viagenie.ca") == 0, "EMAIL");
	is_str(idx.org, "Viagenie", "ORG");
	is_str(idx.kind, "individual", "default KIND");
	is_str(value_of(card, "KEY"), "http://www.viagenie.ca/simon.perreault/simon.asc",
	       "KEY unfolded");
	vcard_index_clear(&idx);
	/* Written canonical (refolded): stable from then on. */
	out = vcard_write(card, NULL);
	again = parse(out);
	out2 = again != NULL ? vcard_write(again, NULL) : NULL;
	is_str(out2, out, "canonical form is a fixed point");
	ok(strstr(out, "ADR;TYPE=work:;Suite D2-630;2875 Laurier;Quebec;QC;G1V 2M2;Canada\r\n") !=
	       NULL,
	   "short folded line written unfolded");
	free(out);
	free(out2);
	vcard_free(&again);
	vcard_free(&card);
}

static void
test_rfc2426(void)
{
	struct vcard *card;
	struct vcard_index idx;
	const struct vcard_prop *p;

	card = parse("BEGIN:vCard\r\nVERSION:3.0\r\nFN:Frank Dawson\r\n"
	             "ORG:Lotus Development Corporation\r\n"
	             "ADR;TYPE=WORK,POSTAL,PARCEL:;;6544 Battleford Drive\r\n"
	             " ;Raleigh;NC;27613-3502;U.S.A.\r\n"
	             "TEL;TYPE=VOICE,MSG,WORK:+1-919-676-9515\r\n"
	             "TEL;TYPE=FAX,WORK:+1-919-676-9564\r\n"
	             "EMAIL;TYPE=INTERNET,PREF:Frank_Dawson@Lotus.com\r\n"
	             "EMAIL;TYPE=INTERNET:fdawson@earthlink.net\r\n"
	             "URL:http://home.earthlink.net/~fdawson\r\nEND:vCard\r\n");
	ok(card != NULL && card->version == VCARD_V3, "RFC 2426 section 7, Frank Dawson");
	if (card != NULL) {
		char *out = vcard_write(card, NULL);

		ok(strncmp(out, "BEGIN:vCard\r\n", 13) == 0 && strstr(out, "END:vCard\r\n") != NULL,
		   "BEGIN/END spelling kept");
		free(out);
		vcard_index_get(card, &idx);
		ok(idx.nemails == 2 && strcmp(idx.emails[0], "Frank_Dawson@Lotus.com") == 0,
		   "TYPE=PREF address first");
		ok(idx.ntels == 2 && strcmp(idx.tels[1], "+1-919-676-9564") == 0, "3.0 TELs");
		vcard_index_clear(&idx);
	}
	vcard_free(&card);
	card = parse("BEGIN:vCard\r\nVERSION:3.0\r\nFN:Tim Howes\r\n"
	             "ORG:Netscape Communications Corp.\r\n"
	             "ADR;TYPE=WORK:;;501 E. Middlefield Rd.;Mountain View;\r\n"
	             " CA; 94043;U.S.A.\r\n"
	             "TEL;TYPE=VOICE,MSG,WORK:+1-415-937-3419\r\n"
	             "TEL;TYPE=FAX,WORK:+1-415-528-4164\r\n"
	             "EMAIL;TYPE=INTERNET:howes@netscape.com\r\nEND:vCard\r\n");
	ok(card != NULL, "RFC 2426 section 7, Tim Howes");
	vcard_free(&card);

	/* Property examples of section 3. */
	card = stable(
	    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mr. John Q. Public\\, Esq.\r\n"
	    "N:Public;John;Quinlan;Mr.;Esq.\r\nNICKNAME:Robbie\r\n"
	    "PHOTO;VALUE=uri:http://www.abc.com/pub/photos/jqpublic.gif\r\n"
	    "BDAY:1996-04-15\r\n"
	    "ADR;TYPE=dom,home,postal,parcel:;;123 Main Street;Any Town;CA;91921-1234\r\n"
	    "LABEL;TYPE=dom,home,postal,parcel:Mr.John Q. Public\\, Esq.\\nMail Drop: TNE \r\n"
	    " QB\\n123 Main Street\\nAny Town\\, CA  91921-1234\\nU.S.A.\r\n"
	    "TEL;TYPE=work,voice,pref,msg:+1-213-555-1234\r\n"
	    "EMAIL;TYPE=internet,pref:jane_doe@abc.com\r\nMAILER:PigeonMail 2.1\r\n"
	    "TZ:-05:00\r\nGEO:37.386013;-122.082932\r\nTITLE:Director\\, Research and Analysis\r\n"
	    "ROLE:Programmer\r\n"
	    "AGENT:BEGIN:VCARD\\nFN:Susan Thomas\\nTEL:+1-919-555-1234\\nEMAIL\\;INTERNET:st\r\n"
	    " homas@host.com\\nEND:VCARD\\n\r\n"
	    "ORG:ABC\\, Inc.;North American Division;Marketing\r\n"
	    "CATEGORIES:TRAVEL AGENT\r\n"
	    "NOTE:This fax number is operational 0800 to 1715 EST\\, Mon-Fri.\r\n"
	    "PRODID:-//ONLINE DIRECTORY//NONSGML Version 1//EN\r\n"
	    "REV:1995-10-31T22:27:10Z\r\nSORT-STRING:Harten\r\n"
	    "UID:19950401-080045-40000F192713-0052\r\n"
	    "URL:http://www.swbyps.restaurant.french/~chezchic.html\r\n"
	    "CLASS:CONFIDENTIAL\r\n"
	    "KEY;ENCODING=b:MIICajCCAdOgAwIBAgICBEUwDQYJKoZIhvcNAQEEBQAwdzELMAkGA1UEBhMC\r\n"
	    " VVMxLDAqBgNVBAoTI05l\r\nEND:VCARD\r\n",
	    "RFC 2426 section 3 properties");
	vcard_index_get(card, &idx);
	is_str(idx.fn, "Mr. John Q. Public, Esq.", "FN unescaped");
	ok(idx.has_bday && idx.bday_year == 1996 && idx.bday_month == 4 && idx.bday_day == 15,
	   "3.0 BDAY 1996-04-15");
	is_str(idx.klass, "CONFIDENTIAL", "CLASS");
	is_str(idx.uid, "19950401-080045-40000F192713-0052", "UID");
	vcard_index_clear(&idx);
	p = vcard_find(card, "AGENT");
	ok(p != NULL && strncmp(p->value, "BEGIN:VCARD\\n", 13) == 0,
	   "AGENT's embedded card is a value, not nesting");
	vcard_free(&card);

	/* 3.0 bare parameter (TYPE value without TYPE=) and groups. */
	card = stable("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nTEL;WORK;VOICE:+1 555\r\n"
	              "item1.EMAIL;type=INTERNET:a@example.com\r\n"
	              "item1.X-ABLabel:_$!<Other>!$_\r\nEND:VCARD\r\n",
	              "3.0 bare types and groups");
	p = vcard_find(card, "TEL");
	ok(p != NULL && vcard_prop_has_type(p, "work") && p->params[1].raw == NULL,
	   "bare 3.0 types");
	p = vcard_find(card, "X-ABLABEL");
	ok(p != NULL && strcmp(p->group, "item1") == 0, "property group");
	vcard_free(&card);

	/* 3.0 distribution list (Apple's X-ADDRESSBOOKSERVER-*) */
	card = stable("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Team\r\nN:Team;;;;\r\n"
	              "X-ADDRESSBOOKSERVER-KIND:group\r\n"
	              "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a\r\n"
	              "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:b\r\nEND:VCARD\r\n",
	              "3.0 distribution list");
	vcard_index_get(card, &idx);
	ok(strcmp(idx.kind, "group") == 0 && idx.nmembers == 2, "3.0 group with two members");
	vcard_index_clear(&idx);
	vcard_free(&card);
}

static void
test_build(void)
{
	const char *error = NULL;
	struct vcard *card = vcard_new(VCARD_V4), *card3 = vcard_new(VCARD_V3), *back;
	struct vcard_prop *p;
	struct vcard_index idx;
	char *out;

	vcard_add_text(card, NULL, "FN", "Doe, Jane; \\ the\nsecond");
	p = vcard_add(card, NULL, "EMAIL", "jane@example.com");
	ok(vcard_param_add(card, p, "TYPE", "work", &error) == 0, "param added");
	ok(vcard_param_add(card, p, "X-LABEL", "a \"b\", c^\nd", &error) == 0,
	   "param needing quotes");
	ok(vcard_param_add(card, p, "bad name", "x", &error) < 0, "bad param name refused");
	ok(vcard_param_add(card, p, "X-C", "a\001b", &error) < 0, "control char refused");
	vcard_member_add(card, "mailto:a@example.com");
	out = vcard_write(card, NULL);
	is_str(out,
	       "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Doe\\, Jane\\; \\\\ the\\nsecond\r\n"
	       "EMAIL;TYPE=work;X-LABEL=\"a ^'b^', c^^^nd\":jane@example.com\r\n"
	       "KIND:group\r\nMEMBER:mailto:a@example.com\r\nEND:VCARD\r\n",
	       "built 4.0 card");
	back = parse(out);
	ok(back != NULL, "built card parses");
	if (back != NULL) {
		const struct vcard_param *par =
		    vcard_prop_param(vcard_find(back, "EMAIL"), "X-LABEL");

		is_str(par != NULL ? par->values[0] : NULL, "a \"b\", c^\nd",
		       "parameter reads back");
		vcard_index_get(back, &idx);
		is_str(idx.fn, "Doe, Jane; \\ the\nsecond", "text reads back");
		vcard_index_clear(&idx);
	}
	vcard_free(&back);
	free(out);

	vcard_add(card3, NULL, "FN", "x");
	p = vcard_add(card3, NULL, "NOTE", "y");
	ok(vcard_param_add(card3, p, "X-Q", "a\"b", &error) < 0, "'\"' refused in 3.0");
	ok(vcard_param_add(card3, p, "X-Q", "a\nb", &error) == 0, "newline in 3.0");
	vcard_member_add(card3, "urn:uuid:1");
	out = vcard_write(card3, NULL);
	is_str(out,
	       "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nNOTE;X-Q=a b:y\r\n"
	       "X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:1\r\n"
	       "END:VCARD\r\n",
	       "built 3.0 card");
	free(out);
	vcard_free(&card);
	vcard_free(&card3);
}

static void
test_malformed(void)
{
	const char *error = NULL;

	ok(vcard_parse("", 0, &error) == NULL, "empty refused");
	refused("VERSION:4.0\r\nFN:x\r\nEND:VCARD\r\n", "line 1: expected BEGIN:VCARD",
	        "missing BEGIN");
	refused("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "expected BEGIN:VCARD", "not a card");
	refused("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n", "END:VCARD missing", "missing END");
	refused("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCALENDAR\r\n",
	        "line 4: END:VCALENDAR does not match", "mismatched END");
	refused("BEGIN:VCARD\r\nVERSION:4.0\r\nBEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\nEND:VCARD\r\n",
	        "line 3: nested BEGIN", "nested BEGIN");
	refused(V4("") "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:y\r\nEND:VCARD\r\n",
	        "line 5: content after END:VCARD", "two cards");
	refused("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n", "VERSION missing", "no VERSION");
	refused("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:x\r\nEND:VCARD\r\n",
	        "line 2: unsupported VERSION \"2.1\"", "VERSION 2.1");
	refused("BEGIN:VCARD\r\nVERSION:4.0\r\nVERSION:4.0\r\nFN:x\r\nEND:VCARD\r\n",
	        "line 3: VERSION given twice", "two VERSIONs");
	refused("BEGIN:VCARD\r\nVERSION:4.0\r\nN:a;b;;;\r\nEND:VCARD\r\n", "FN missing", "no FN");
	refused(V4("NOTE no colon\r\n"), "line 4: ':' missing after property name NOTE",
	        "no colon");
	refused(V4(":value\r\n"), "line 4: property name missing", "empty name");
	refused(V4("NO TE:x\r\n"), "line 4: ':' missing", "blank in name");
	refused(V4("a..b:x\r\n"), "line 4: property name missing", "empty name after group");
	refused(V4("NOTE;X-A=\"abc:x\r\n"), "line 4: unterminated quoted value of parameter X-A",
	        "unterminated quote");
	refused(V4("NOTE;X-A=a\"b:x\r\n"), "line 4: '\"' inside the unquoted value", "stray quote");
	refused(V4("NOTE;X-A=\"a\"b:x\r\n"), "line 4: unexpected character after the value",
	        "text after a quoted value");
	refused(V4("NOTE;=a:x\r\n"), "line 4: parameter name missing", "empty param name");
	refused(V4("TEL;WORK:+1\r\n"), "line 4: parameter WORK without a value",
	        "bare parameter in 4.0");
	refused(V4("NOTE:a\001b\r\n"), "line 4: control character", "control character");
	refused(V4("NOTE:a\xc3(b\r\n"), "line 4: invalid UTF-8", "bad UTF-8");
	refused(V4("NOTE:a\xed\xa0\x80\r\n"), "line 4: invalid UTF-8", "UTF-8 surrogate");
	refused(V4("NOTE:a\rb\r\n"), "line 4: bare carriage return", "bare CR");
	refused(" BEGIN:VCARD\r\n", "line 1: continuation line without", "leading continuation");
	refused(V4("MEMBER:urn:uuid:x\r\n"), "line 4: MEMBER in a card whose KIND is not group",
	        "MEMBER without KIND:group");
	{
		/* Too many properties. */
		size_t n = VCARD_MAX_PROPS + 10, pos = 0;
		char *big = malloc(n * 8 + 64);

		pos += (size_t)sprintf(big, "BEGIN:VCARD\r\nVERSION:4.0\r\n");
		for (size_t i = 0; i < n; i++)
			pos += (size_t)sprintf(big + pos, "FN:x\r\n");
		sprintf(big + pos, "END:VCARD\r\n");
		refused(big, "more than 10000 properties", "property limit");
		free(big);
	}
}

int
main(void)
{
	test_rfc6350_folding();
	test_rfc6350_params();
	test_rfc6350_properties();
	test_rfc6350_example();
	test_rfc2426();
	test_build();
	test_malformed();
	return done_testing();
}
