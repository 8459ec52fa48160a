/* floectl output: column-aligned tables for people and indented JSON for
 * scripts, plus the formatting of sizes and flags they share. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floectl.h"
#include "xmalloc.h"

void
floectl_table_init(struct floectl_table *table, size_t ncols, const char *const *headers)
{
	table->ncols = ncols;
	table->nrows = 0;
	table->headers = headers;
	table->cells = NULL;
}

void
floectl_table_row(struct floectl_table *table, const char *const *cells)
{
	table->cells =
	    xreallocarray(table->cells, (table->nrows + 1) * table->ncols, sizeof(char *));
	for (size_t i = 0; i < table->ncols; i++)
		table->cells[table->nrows * table->ncols + i] =
		    xstrdup(cells[i] != NULL ? cells[i] : "");
	table->nrows++;
}

/* Columns on a terminal: UTF-8 sequences count once (wide characters are
 * rare enough in names that they are not measured). */
static size_t
floectl_text_width(const char *text)
{
	size_t width = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if ((*p & 0xc0) != 0x80)
			width++;
	}
	return width;
}

static void
floectl_table_line(const struct floectl_table *table, const char *const *cells,
                   const size_t *widths)
{
	for (size_t i = 0; i < table->ncols; i++) {
		fputs(cells[i], stdout);
		if (i + 1 < table->ncols) {
			for (size_t w = floectl_text_width(cells[i]); w < widths[i] + 2; w++)
				putchar(' ');
		}
	}
	putchar('\n');
}

void
floectl_table_print(struct floectl_table *table)
{
	size_t *widths = xcalloc(table->ncols, sizeof(size_t));

	for (size_t i = 0; i < table->ncols; i++)
		widths[i] = floectl_text_width(table->headers[i]);
	for (size_t r = 0; r < table->nrows; r++) {
		for (size_t i = 0; i < table->ncols; i++) {
			size_t w = floectl_text_width(table->cells[r * table->ncols + i]);

			if (w > widths[i])
				widths[i] = w;
		}
	}
	floectl_table_line(table, table->headers, widths);
	for (size_t r = 0; r < table->nrows; r++)
		floectl_table_line(table, (const char *const *)&table->cells[r * table->ncols],
		                   widths);
	for (size_t i = 0; i < table->nrows * table->ncols; i++)
		free(table->cells[i]);
	xfree_ptr(&table->cells);
	table->nrows = 0;
	free(widths);
}

void
floectl_json_print(json_t *value)
{
	json_dumpf(value, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(value);
}

const char *
floectl_format_size(int64_t bytes, char buf[32])
{
	static const struct {
		char suffix;
		int64_t unit;
	} units[] = {
	    {'G', INT64_C(1) << 30},
	    {'M', INT64_C(1) << 20},
	    {'K', INT64_C(1) << 10},
	};

	if (bytes <= 0)
		return "unlimited";
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (bytes % units[i].unit == 0) {
			snprintf(buf, 32, "%" PRId64 "%c", bytes / units[i].unit, units[i].suffix);
			return buf;
		}
	}
	snprintf(buf, 32, "%" PRId64, bytes);
	return buf;
}

const char *
floectl_yes_no(bool value)
{
	return value ? "yes" : "no";
}
