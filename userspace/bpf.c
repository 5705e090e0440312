// SPDX-License-Identifier: GPL-2.0
/*
 * Loading, attaching, pinning and unloading the BPF side, and the status
 * that goes with it. Pins under CB_PIN_DIR:
 *   breakers, rules, port_rules, conns, dgrams, icmps, counts, socks,
 *   gate                     the maps
 *   prog_<hook>              the cgroup hook programs of the first cgroup
 *   link_<cgroup id>_<hook>  one cgroup attachment each
 *   trace_<name>             the outcome sensors (global)
 *
 * Every attached cgroup is a scope of its own: its hook programs are loaded
 * for it (cb_scope, set in their .bss before loading), so that its processes'
 * failures open only its breakers. The sensors and maps are shared.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/file.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/magic.h>

#include "compat.h"

#include "cbctl.h"
#include "cbreaker.skel.h"

#define CB_PIN_MAP CB_PIN_DIR "/breakers"

static const struct cb_hook {
	const char *name;
	enum bpf_attach_type type;
} cb_hooks[] = {
	/* first in, last out: it ends the connect timeouts the others set */
	{ "sockops", BPF_CGROUP_SOCK_OPS },
	{ "connect4", BPF_CGROUP_INET4_CONNECT },
	{ "connect6", BPF_CGROUP_INET6_CONNECT },
	{ "sendmsg4", BPF_CGROUP_UDP4_SENDMSG },
	{ "sendmsg6", BPF_CGROUP_UDP6_SENDMSG },
};
#define CB_HOOK_SOCKOPS 0
#define CB_NR_HOOKS (sizeof(cb_hooks) / sizeof(cb_hooks[0]))

static struct bpf_program *cb_hook_prog(struct cb_bpf *skel, unsigned int i)
{
	struct bpf_program *progs[CB_NR_HOOKS] = {
		skel->progs.cb_sockops,
		skel->progs.cb_connect4, skel->progs.cb_connect6,
		skel->progs.cb_sendmsg4, skel->progs.cb_sendmsg6,
	};

	return progs[i];
}

static struct bpf_program *cb_trace_prog(struct cb_bpf *skel, unsigned int i)
{
	struct bpf_program *progs[] = {
		skel->progs.cb_tcp_done, skel->progs.cb_tcp_failed,
		skel->progs.cb_tcp_close, skel->progs.cb_tcp_disconnect,
		skel->progs.cb_tcp_fin, skel->progs.cb_udp4_err, skel->progs.cb_udp4_lookup,
		skel->progs.cb_udp6_err, skel->progs.cb_udp6_lookup,
		skel->progs.cb_udp_told, skel->progs.cb_cmsg4, skel->progs.cb_cmsg6,
		NULL,
	};

	return progs[i];
}

/* The maps, by pin name: every program instance shares them. */
static struct bpf_map *cb_map_at(struct cb_bpf *skel, unsigned int i,
				 const char **name)
{
	static const char * const names[] = {
		"breakers", "rules", "port_rules", "conns", "dgrams", "icmps",
		"counts", "socks", "gate",
	};
	struct bpf_map *maps[] = {
		skel->maps.cb_breakers, skel->maps.cb_rules,
		skel->maps.cb_port_rules, skel->maps.cb_conns,
		skel->maps.cb_dgrams, skel->maps.cb_icmps,
		skel->maps.cb_counts, skel->maps.cb_socks, skel->maps.cb_gate,
		NULL,
	};

	if (maps[i])
		*name = names[i];
	return maps[i];
}

static void cb_pin_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cb_pin_path(char *buf, size_t len, const char *fmt, ...)
{
	int n = snprintf(buf, len, "%s/", CB_PIN_DIR);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static bool cb_capable(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

/* Said plainly up front, rather than by libbpf half-way through. */
static bool cb_may_load(void)
{
	return cb_capable(CAP_NET_ADMIN) &&
	       ((cb_capable(CAP_BPF) && cb_capable(CAP_PERFMON)) ||
		cb_capable(CAP_SYS_ADMIN));
}

bool cb_module_loaded(void)
{
	return access("/sys/module/cbreaker/initstate", F_OK) == 0;
}

static bool cb_bpf_loaded(void)
{
	return access(CB_PIN_MAP, F_OK) == 0;
}

/* The first cgroup v2 mount: the default place to attach. */
static int cb_cgroup_root(char *buf, size_t len)
{
	char dev[64], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int err = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int cb_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	if (level == LIBBPF_DEBUG || cb_json)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * May our sock_ops program join @cgroup? Not where another tool's would
 * lose its place: one attached without BPF_F_ALLOW_MULTI there or above
 * (exclusive: ours would be refused; overridable: ours would replace it
 * below). Without it the hooks set no connect timeouts there.
 */
static bool cb_sockops_free(const char *cgroup)
{
	char path[PATH_MAX], *slash;
	__u32 flags, cnt;
	struct statfs sfs;
	int fd, err;

	snprintf(path, sizeof(path), "%s", cgroup);
	while (!statfs(path, &sfs) && sfs.f_type == CGROUP2_SUPER_MAGIC) {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		flags = 0;
		cnt = 0;
		err = fd < 0 ? -1 : bpf_prog_query(fd, BPF_CGROUP_SOCK_OPS, 0,
						    &flags, NULL, &cnt);
		if (fd >= 0)
			close(fd);
		if (!err && cnt && !(flags & BPF_F_ALLOW_MULTI)) {
			fprintf(stderr, "cbctl: %s has a sock_ops program without "
				"BPF_F_ALLOW_MULTI: connect-timeout is off in %s\n",
				path, cgroup);
			return false;
		}
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			break;
		*slash = '\0';
	}
	return true;
}

/* What to do about a module of another version than cbctl's */
#define CB_RELOAD "load the module of cbctl's version (cbctl unload; " \
		  "modprobe -r cbreaker; modprobe cbreaker)"

/*
 * Does the module loaded have every kfunc of ours @obj calls? Else libbpf
 * would refuse the object in its own words. Once per run: every object
 * cbctl opens is the same. Without BTF to tell, libbpf decides.
 */
static int cb_module_serves(const struct bpf_object *obj)
{
	struct btf *vm, *mod = NULL;
	static bool served;
	const char *name = NULL;
	int err = 0;

	if (served)
		return 0;
	vm = btf__load_vmlinux_btf();
	if (vm)
		mod = btf__load_module_btf("cbreaker", vm);
	if (mod)
		name = cb_kfunc_missing(bpf_object__btf(obj), mod);
	if (name)
		err = cb_err("the cbreaker module loaded lacks %s(), which cbctl %s calls: "
			     CB_RELOAD, name, CB_VERSION);
	served = !err;
	btf__free(mod);
	btf__free(vm);
	return err;
}

/*
 * Load the object, hand its maps to the module, attach the sensors, pin it
 * all; its hook programs serve @scope, with cb_sockops if @sockops. The
 * caller removes what is pinned if this fails.
 */
static int cb_load_pin(uint32_t table, uint32_t scope, bool sockops)
{
	char pkt[ETH_HLEN] = { 0 };	/* a tc program's test run needs a frame */
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt,
		    .data_size_in = sizeof(pkt));
	struct bpf_program *prog;
	struct bpf_map *map;
	const char *name;
	struct bpf_link *link;
	char path[PATH_MAX];
	struct cb_bpf *skel;
	unsigned int i;
	int err;

	libbpf_set_print(cb_libbpf_print);
	skel = cb_bpf__open();
	if (!skel)
		return cb_err("opening the BPF object failed: %s", strerror(errno));
	err = cb_module_serves(skel->obj);
	if (err)
		goto out;
	if (table)
		bpf_map__set_max_entries(skel->maps.cb_breakers, table);
	skel->bss->cb_scope = scope;
	skel->bss->cb_sockops_on = sockops;
	err = cb_compat_udp6_err(skel->progs.cb_udp6_err) ?: cb_bpf__load(skel);
	if (err) {
		cb_err("loading the BPF programs failed: %s", strerror(-err));
		goto out;
	}

	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.cb_register),
				     &run);
	if (err || run.retval) {
		err = err ? -errno : (int)run.retval;
		if (err == -EBUSY)	/* leave the other instance be */
			err = cb_err("the module serves another instance already (cbctl unload)");
		else if (err == -EINVAL)	/* maps of another shape */
			err = cb_err("the cbreaker module loaded does not take cbctl %s's maps: "
				     CB_RELOAD, CB_VERSION);
		else
			cb_err("handing the maps to the module failed: %s",
			       strerror(-err));
		goto out;
	}

	if (mkdir(CB_PIN_DIR, 0700) && errno != EEXIST) {
		err = cb_err("mkdir %s: %s", CB_PIN_DIR, strerror(errno));
		goto out;
	}
	for (i = 0; !err && (map = cb_map_at(skel, i, &name)); i++) {
		cb_pin_path(path, sizeof(path), "%s", name);
		err = bpf_map__pin(map, path);
	}
	for (i = 0; !err && i < CB_NR_HOOKS; i++) {
		cb_pin_path(path, sizeof(path), "prog_%s", cb_hooks[i].name);
		err = bpf_program__pin(cb_hook_prog(skel, i), path);
	}
	if (err) {
		cb_err("pinning under %s failed: %s", CB_PIN_DIR, strerror(-err));
		goto out;
	}
	for (i = 0; (prog = cb_trace_prog(skel, i)); i++) {
		link = bpf_program__attach(prog);
		err = link ? 0 : -errno;
		cb_pin_path(path, sizeof(path), "trace_%s", bpf_program__name(prog));
		if (!err)
			err = bpf_link__pin(link, path);
		bpf_link__destroy(link);	/* the pin holds it */
		if (err) {
			cb_err("attaching %s: %s", bpf_program__name(prog),
			       strerror(-err));
			goto out;
		}
	}
out:
	cb_bpf__destroy(skel);
	return err ? -1 : 0;
}

/* Remove every pin, which detaches the links and frees what nobody holds. */
static void cb_unpin_all(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(CB_PIN_DIR);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		cb_pin_path(path, sizeof(path), "%s", de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(CB_PIN_DIR);
}

static void cb_link_path(char *buf, size_t len, uint64_t cgid, unsigned int i)
{
	cb_pin_path(buf, len, "link_%" PRIu64 "_%s", cgid, cb_hooks[i].name);
}

/*
 * The hook programs for another cgroup: loaded anew with @scope, on the
 * pinned maps, without the sensors. Its links hold them once attached.
 */
static struct cb_bpf *cb_load_scope(uint32_t scope, bool sockops)
{
	struct bpf_program *prog;
	char path[PATH_MAX];
	struct cb_bpf *skel;
	struct bpf_map *map;
	const char *name;
	unsigned int i;
	int fd, err = 0;

	libbpf_set_print(cb_libbpf_print);
	skel = cb_bpf__open();
	if (!skel) {
		cb_err("opening the BPF object failed: %s", strerror(errno));
		return NULL;
	}
	if (cb_module_serves(skel->obj)) {
		cb_bpf__destroy(skel);
		return NULL;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	for (i = 0; i < CB_NR_HOOKS; i++)
		bpf_program__set_autoload(cb_hook_prog(skel, i), true);
	for (i = 0; !err && (map = cb_map_at(skel, i, &name)); i++) {
		cb_pin_path(path, sizeof(path), "%s", name);
		fd = bpf_obj_get(path);
		err = fd < 0 ? -errno : bpf_map__reuse_fd(map, fd);
		if (fd >= 0)
			close(fd);
	}
	skel->bss->cb_scope = scope;
	skel->bss->cb_sockops_on = sockops;
	if (!err)
		err = cb_bpf__load(skel);
	if (err) {
		cb_err("loading the BPF programs for another cgroup failed: %s",
		       strerror(-err));
		cb_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/*
 * Attach all the hooks to the cgroup, or none: the pinned programs if
 * @first (the load made them for this cgroup), else its own; sock_ops
 * only if @sockops.
 */
static int cb_attach(const char *cgroup, int cg_fd, uint64_t cgid, bool first,
		     bool sockops)
{
	struct cb_bpf *skel = NULL;
	char path[PATH_MAX];
	unsigned int i, n;
	int prog_fd, link_fd, err = 0;

	cb_link_path(path, sizeof(path), cgid, 0);
	if (!access(path, F_OK))
		return cb_err("already attached to %s", cgroup);
	if (!first) {
		skel = cb_load_scope(cgid, sockops);
		if (!skel)
			return -1;
	}

	for (n = 0; n < CB_NR_HOOKS && !err; n++) {
		if (n == CB_HOOK_SOCKOPS && !sockops)
			continue;
		if (skel) {
			prog_fd = dup(bpf_program__fd(cb_hook_prog(skel, n)));
		} else {
			cb_pin_path(path, sizeof(path), "prog_%s", cb_hooks[n].name);
			prog_fd = bpf_obj_get(path);
		}
		if (prog_fd < 0) {
			err = cb_err("program %s: %s", cb_hooks[n].name,
				     strerror(errno));
			break;
		}
		link_fd = bpf_link_create(prog_fd, cg_fd, cb_hooks[n].type, NULL);
		close(prog_fd);
		if (link_fd < 0) {
			err = cb_err("attaching %s to %s: %s", cb_hooks[n].name,
				     cgroup, strerror(errno));
			break;
		}
		cb_link_path(path, sizeof(path), cgid, n);
		if (bpf_obj_pin(link_fd, path))
			err = cb_err("pinning %s: %s", path, strerror(errno));
		close(link_fd);
	}
	for (i = 0; err && i < n; i++) {
		cb_link_path(path, sizeof(path), cgid, i);
		unlink(path);
	}
	cb_bpf__destroy(skel);
	return err;
}

static void cb_detach(uint64_t cgid)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = CB_NR_HOOKS; i-- > 0;) {	/* sock_ops last */
		cb_link_path(path, sizeof(path), cgid, i);
		unlink(path);
	}
}

/*
 * One cbctl at a time loads or unloads: two loads racing could otherwise
 * each find nothing loaded, and the loser's clean-up would take the
 * winner's maps. The lock goes with the process.
 */
static int cb_lock(void)
{
	int fd = open("/sys/fs/bpf", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || flock(fd, LOCK_EX))
		return cb_err("locking /sys/fs/bpf: %s", strerror(errno));
	return 0;
}

#define CB_MAX_CGROUPS 64

/* Checked before anything changes: every path a cgroup v2 directory. */
static int cb_open_cgroups(char **cgroups, int n, int *fds, uint64_t *ids)
{
	struct statfs sfs;
	struct stat st;
	int i, j;

	for (i = 0; i < n; i++) {
		fds[i] = -1;
		if (statfs(cgroups[i], &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
			return cb_err("%s is not a cgroup v2 directory", cgroups[i]);
		fds[i] = open(cgroups[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[i] < 0 || fstat(fds[i], &st))
			return cb_err("%s: %s", cgroups[i], strerror(errno));
		ids[i] = st.st_ino;	/* on cgroup v2 a cgroup's inode number is its id */
		for (j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return cb_err("cgroup %s given twice", cgroups[i]);
	}
	return 0;
}

int cb_do_load(char **cgroups, int n, uint32_t table)
{
	int fds[CB_MAX_CGROUPS], i, made = 0, err;
	bool sockops[CB_MAX_CGROUPS];
	uint64_t ids[CB_MAX_CGROUPS];
	char root[PATH_MAX], *rootp = root;
	bool fresh = false;
	struct statfs sfs;

	if (!cb_module_loaded())
		return cb_err("the cbreaker module is not loaded (modprobe cbreaker)");
	if (statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC)
		return cb_err("no bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)");
	if (!cb_may_load())
		return cb_err("Permission denied: loading needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");
	if (!cb_netns_initial())
		return cb_err("loading is host-wide: load from the initial network namespace");
	if (n > CB_MAX_CGROUPS)
		return cb_err("at most %d cgroups at once", CB_MAX_CGROUPS);
	if (!n) {
		if (cb_cgroup_root(root, sizeof(root)))
			return cb_err("no cgroup v2 mount found");
		cgroups = &rootp;
		n = 1;
	}
	err = cb_open_cgroups(cgroups, n, fds, ids) ?: cb_lock();
	if (err)
		goto out;
	for (i = 0; i < n; i++)
		sockops[i] = cb_sockops_free(cgroups[i]);

	if (!cb_bpf_loaded()) {
		err = cb_load_pin(table, (uint32_t)ids[0], sockops[0]);
		if (err) {
			cb_nl_maps_release();
			cb_unpin_all();
			goto out;
		}
		fresh = true;
	} else if (table) {
		err = cb_err("already loaded: the table size is set on the first load");
		goto out;
	}
	for (made = 0; made < n && !err; made++)
		err = cb_attach(cgroups[made], fds[made], ids[made],
				fresh && !made, sockops[made]);
	if (err && fresh) {
		cb_nl_maps_release();
		cb_unpin_all();
	} else if (err) {
		for (i = 0; i < made - 1; i++)	/* the failed one cleaned up */
			cb_detach(ids[i]);
	}
out:
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

/* Programs are freed asynchronously; wait until none holds the module. */
static void cb_wait_module_idle(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char buf[16] = "";
	int i;

	for (i = 0; i < 500; i++) {
		FILE *f = fopen("/sys/module/cbreaker/refcnt", "r");

		if (!f)
			return;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (atoi(buf) == 0)
			return;
		nanosleep(&ts, NULL);
	}
}

int cb_do_unload(void)
{
	if (access(CB_PIN_DIR, F_OK) && errno == ENOENT)
		return cb_err("cbreaker is not loaded (no %s)", CB_PIN_DIR);
	if (!cb_may_load() || access(CB_PIN_DIR, W_OK))
		return cb_err("Permission denied: unloading needs CAP_BPF and CAP_NET_ADMIN");
	if (cb_lock())
		return -1;
	if (cb_module_loaded() && cb_nl_maps_release())
		return -1;
	cb_unpin_all();
	if (!access(CB_PIN_DIR, F_OK))
		return cb_err("could not remove %s", CB_PIN_DIR);
	cb_wait_module_idle();
	return 0;
}

/* --- status ------------------------------------------------------------- */

static uint64_t cb_find_ino;
static char cb_found[PATH_MAX];

static int cb_find_cb(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D && st->st_ino == cb_find_ino) {
		snprintf(cb_found, sizeof(cb_found), "%s", path);
		return 1;
	}
	return 0;
}

/* The path of the cgroup with id @cgid, or "" if it is gone. */
static const char *cb_cgroup_path(uint64_t cgid)
{
	char root[PATH_MAX];

	cb_found[0] = '\0';
	cb_find_ino = cgid;
	if (!cb_cgroup_root(root, sizeof(root)))
		nftw(root, cb_find_cb, 32, FTW_PHYS | FTW_MOUNT);
	return cb_found;
}

/* Ids of the cgroups attached, from the connect4 link pins. */
static int cb_attached_cgroups(uint64_t *ids, int max)
{
	DIR *d = opendir(CB_PIN_DIR);
	struct dirent *de;
	uint64_t id;
	int n = 0, end;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		end = 0;
		if (sscanf(de->d_name, "link_%" SCNu64 "_connect4%n", &id, &end) == 1 &&
		    end && !de->d_name[end])
			ids[n++] = id;
	}
	closedir(d);
	return n;
}

int cb_scope_of(const char *path, uint32_t *scope)
{
	uint64_t ids[CB_MAX_CGROUPS];
	int i, n = cb_attached_cgroups(ids, CB_MAX_CGROUPS);
	struct stat st;

	if (stat(path, &st))
		return cb_err("cgroup %s: %s", path, strerror(errno));
	for (i = 0; i < n; i++) {
		if (ids[i] == st.st_ino) {
			*scope = (uint32_t)ids[i];
			return 0;
		}
	}
	return cb_err("cbreaker is not attached to cgroup %s", path);
}

int cb_attached_scopes(uint32_t *scopes, int max)
{
	uint64_t ids[CB_MAX_CGROUPS];
	int i, n = cb_attached_cgroups(ids, CB_MAX_CGROUPS);

	for (i = 0; i < n && i < max; i++)
		scopes[i] = (uint32_t)ids[i];
	return n;
}

/* Looked up once per run: a walk of the cgroup tree is not cheap. */
const char *cb_scope_path(uint32_t scope)
{
	static struct { uint32_t scope; char *path; } known[CB_MAX_CGROUPS];
	static int n = -1;
	uint64_t ids[CB_MAX_CGROUPS];
	int i;

	if (n < 0) {
		n = cb_attached_cgroups(ids, CB_MAX_CGROUPS);
		for (i = 0; i < n; i++) {
			known[i].scope = (uint32_t)ids[i];
			known[i].path = strdup(cb_cgroup_path(ids[i]));
		}
	}
	for (i = 0; i < n; i++)
		if (known[i].scope == scope && known[i].path)
			return known[i].path;
	return "";
}

int cb_print_status(void)
{
	uint64_t ids[CB_MAX_CGROUPS];
	struct cb_status_info st = { 0 };
	bool module = cb_module_loaded();
	bool progs = cb_bpf_loaded();
	int i, n = cb_attached_cgroups(ids, CB_MAX_CGROUPS);

	if (module && cb_nl_status(&st))
		return -1;

	cb_print_open();
	if (cb_json) {
		jw_obj_open("module");
		jw_bool("loaded", module);
	}
	cb_print_text("module:    %s\n", module ? "loaded" : "not loaded");
	if (module)
		cb_print_str(CB_PRINT_ANY, "version", "version:   %s\n",
			     st.version);
	if (cb_json) {
		jw_obj_close();
		jw_bool("programs_loaded", progs);
		jw_bool("maps_attached", st.maps_attached);
		jw_arr_open("cgroups");
	}
	cb_print_text("programs:  %s\n", progs ? "loaded, pinned at " CB_PIN_DIR :
		      "not loaded");
	cb_print_text("maps:      %s\n", st.maps_attached ? "held by the module" :
		      "not held by the module");
	if (!n)
		cb_print_text("cgroups:   none attached\n");
	for (i = 0; i < n; i++) {
		const char *p = cb_cgroup_path(ids[i]);

		cb_print_open();
		cb_print_u64(CB_PRINT_JSON, "id", NULL, ids[i]);
		cb_print_str(CB_PRINT_JSON, "path", NULL, p);
		cb_print_text("%s %s", i ? "          " : "cgroups:  ",
			      *p ? p : "(removed cgroup)");
		cb_print_close("\n");
	}
	if (cb_json)
		jw_arr_close();
	cb_print_u64(CB_PRINT_ANY, "breakers", "breakers:  %" PRIu64, st.breakers);
	cb_print_u64(CB_PRINT_ANY, "breakers_max", " of %" PRIu64 "\n",
		     st.breakers_max);
	cb_print_u64(CB_PRINT_ANY, "policies", "policies:  %" PRIu64 "\n",
		     st.rules);
	if (module || cb_json) {
		if (cb_json)
			jw_obj_open("counters");
		cb_print_text("counters: ");
		for (i = 0; i < __CB_STAT_MAX; i++) {
			cb_print_text(" %s", cb_stat_name(i));
			cb_print_u64(CB_PRINT_ANY, cb_stat_name(i), " %" PRIu64,
				     st.stats[i]);
		}
		if (cb_json)
			jw_obj_close();
		cb_print_text("\n");
	}
	cb_print_close("");
	return 0;
}
