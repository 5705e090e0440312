// SPDX-License-Identifier: GPL-2.0
/*
 * Network namespaces, as breakers name them: by cookie (the kernel's
 * stable id, never reused while the system runs), and by the name that
 * `ip netns` gave them, where it did.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cbctl.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define CB_NETNS_RUN "/run/netns"

/* The cookie of the namespace this process is in; 0 if unknown. */
uint64_t cb_netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}

/* The cookie of the namespace at @path (a bind mount or /proc/PID/ns/net). */
static int cb_netns_cookie_of(const char *path, uint64_t *cookie)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (self < 0 || fd < 0) {
		err = -errno;
	} else if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
	} else {
		*cookie = cb_netns_cookie();
		if (setns(self, CLONE_NEWNET) || !*cookie)
			err = -EIO;
	}
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return err;
}

/* NAME (of `ip netns`) or a cookie: the namespace's cookie, or -1 (reported). */
int cb_parse_netns(const char *s, uint64_t *cookie)
{
	char path[PATH_MAX], *end;
	int err;

	if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
		return cb_err("bad netns \"%s\" (a name from ip netns, or an id)", s);
	snprintf(path, sizeof(path), CB_NETNS_RUN "/%s", s);
	if (access(path, F_OK)) {
		errno = 0;
		*cookie = strtoull(s, &end, 0);
		if (errno || *end || !*cookie)
			return cb_err("no network namespace \"%s\" (ip netns list)", s);
		return 0;
	}
	err = cb_netns_cookie_of(path, cookie);
	if (err)
		return cb_err("netns %s: %s", s, strerror(-err));
	return 0;
}

/*
 * The `ip netns` name of the namespace with @cookie, or NULL. Names are
 * found by entering each namespace, which needs privilege: without it,
 * or for a namespace nobody named, the id alone is shown.
 */
const char *cb_netns_name(uint64_t cookie)
{
	static struct { uint64_t cookie; char name[NAME_MAX + 1]; } *names;
	static int n = -1;
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t c;
	DIR *d;
	int i;

	if (n < 0) {
		n = 0;
		d = opendir(CB_NETNS_RUN);
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), CB_NETNS_RUN "/%s", de->d_name);
			if (cb_netns_cookie_of(path, &c))
				continue;
			names = realloc(names, (n + 1) * sizeof(*names));
			if (!names)
				break;
			names[n].cookie = c;
			snprintf(names[n].name, sizeof(names[n].name), "%s", de->d_name);
			n++;
		}
		if (d)
			closedir(d);
		if (!names)
			n = 0;
	}
	for (i = 0; i < n; i++)
		if (names[i].cookie == cookie)
			return names[i].name;
	return NULL;
}

/*
 * Is this process in the host's network namespace (init's)? If that cannot
 * be told, say yes: the module checks for itself, this only words the
 * refusal.
 */
bool cb_netns_initial(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) || stat("/proc/1/ns/net", &init))
		return true;
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}
