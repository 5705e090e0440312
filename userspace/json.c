// SPDX-License-Identifier: GPL-2.0
/* A small streaming JSON writer: enough for cbctl's flat objects and lists. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "cbctl.h"

#define JW_DEPTH 16

static int depth;
static bool need_comma[JW_DEPTH];

static void jw_indent(void)
{
	int i;

	if (!cb_pretty)
		return;
	putchar('\n');
	for (i = 0; i < depth; i++)
		fputs("    ", stdout);
}

static void jw_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Comma, indentation and "name": before a value. */
static void jw_key(const char *name)
{
	if (depth > 0 && need_comma[depth])
		putchar(',');
	if (depth > 0)
		need_comma[depth] = true;
	if (depth > 0)
		jw_indent();
	if (name) {
		jw_string(name);
		fputs(cb_pretty ? ": " : ":", stdout);
	}
}

static void jw_open(const char *name, char c)
{
	jw_key(name);
	putchar(c);
	if (depth < JW_DEPTH - 1)
		depth++;
	need_comma[depth] = false;
}

static void jw_close(char c)
{
	bool empty = !need_comma[depth];

	if (depth > 0)
		depth--;
	if (!empty)
		jw_indent();
	putchar(c);
}

void jw_obj_open(const char *name)	{ jw_open(name, '{'); }
void jw_obj_close(void)			{ jw_close('}'); }
void jw_arr_open(const char *name)	{ jw_open(name, '['); }
void jw_arr_close(void)			{ jw_close(']'); }

void jw_str(const char *name, const char *val)
{
	jw_key(name);
	jw_string(val);
}

void jw_u64(const char *name, uint64_t val)
{
	jw_key(name);
	printf("%" PRIu64, val);
}

void jw_bool(const char *name, bool val)
{
	jw_key(name);
	fputs(val ? "true" : "false", stdout);
}

void jw_null(const char *name)
{
	jw_key(name);
	fputs("null", stdout);
}

void jw_end(void)
{
	putchar('\n');
}

/*
 * One print path for text and JSON, as iproute2's print_uint(PRINT_ANY,
 * key, fmt, v): under -j the value goes under @key, else it is printed
 * with @fmt. CB_PRINT_TEXT and CB_PRINT_JSON limit an item to one of the
 * two, where they show a value differently or in another place.
 */
static bool cb_print_here(int where)
{
	return where & (cb_json ? CB_PRINT_JSON : CB_PRINT_TEXT);
}

void cb_print_u64(int where, const char *key, const char *fmt, uint64_t v)
{
	if (!cb_print_here(where))
		return;
	if (cb_json)
		jw_u64(key, v);
	else
		printf(fmt, v);
}

void cb_print_str(int where, const char *key, const char *fmt, const char *v)
{
	if (!cb_print_here(where))
		return;
	if (cb_json)
		jw_str(key, v);
	else
		printf(fmt, v);
}

/* Text only, as printf(). */
void cb_print_text(const char *fmt, ...)
{
	va_list ap;

	if (cb_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* A record: a JSON object (a line of its own at the top level), or text. */
void cb_print_open(void)
{
	if (cb_json)
		jw_obj_open(NULL);
}

void cb_print_close(const char *end)
{
	if (!cb_json) {
		fputs(end, stdout);
		return;
	}
	jw_obj_close();
	if (!depth)
		jw_end();
}
