// SPDX-License-Identifier: GPL-2.0
/* A small streaming JSON writer: enough for cbctl's flat objects and lists. */
#include <inttypes.h>
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
