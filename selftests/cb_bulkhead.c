// SPDX-License-Identifier: GPL-2.0
/*
 * max-conns, a bulkhead per destination, in the guest: never more TCP
 * connections at once than the policy allows, under concurrency; one more
 * connect fails at once with EAGAIN, is counted as rejected_bulkhead and
 * never as a failure; a connection gives its place back when it ends
 * (closed or disconnected by its owner, or refused), in any state.
 */
#include "cb_test.h"

#include <pthread.h>

#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbbulk"

FIXTURE(bulk) {
	int lfd;
	unsigned short port;
};

FIXTURE_SETUP(bulk)
{
	cb_sh("cbctl unload 2>/dev/null");
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	self->lfd = cb_listener("127.0.0.1", SOCK_STREAM, &self->port);
	ASSERT_LE(0, self->lfd);
	ASSERT_EQ(0, cb_join_cgroup(CG));
}

FIXTURE_TEARDOWN(bulk)
{
	cb_join_cgroup(CB_CGROOT);
	close(self->lfd);
	cb_sh("cbctl unload");
	rmdir(CG);
}

/* A breaker's number @name from "cbctl -j breaker show"; -1 if none. */
static long long breaker_num(unsigned short port, const char *name)
{
	char out[4096];

	if (cb_sh_out(out, sizeof(out),
		      "cbctl -j breaker show dst 127.0.0.1 port %u", port))
		return -1;
	return cb_json_num(out, name);
}

struct load {
	struct sockaddr_storage ss;
	socklen_t len;
	int open, most, made, refused, other;
};

struct server {
	int lfd, stop;
};

/* Accept and close until told to stop: the server side of the load. */
static void *server(void *arg)
{
	struct server *srv = arg;
	int c;

	while (!__atomic_load_n(&srv->stop, __ATOMIC_RELAXED)) {
		c = accept(srv->lfd, NULL, NULL);
		if (c >= 0)
			close(c);
		else
			usleep(200);
	}
	return NULL;
}

/* Connect, hold the connection a moment, close; count what happened. */
static void *client(void *arg)
{
	struct load *l = arg;
	int i, fd, now, most;

	for (i = 0; i < 200; i++) {
		fd = socket(l->ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			break;
		if (connect(fd, (void *)&l->ss, l->len)) {
			__atomic_add_fetch(errno == EAGAIN ? &l->refused : &l->other,
					   1, __ATOMIC_RELAXED);
			close(fd);
			continue;
		}
		now = __atomic_add_fetch(&l->open, 1, __ATOMIC_SEQ_CST);
		most = __atomic_load_n(&l->most, __ATOMIC_RELAXED);
		while (now > most &&
		       !__atomic_compare_exchange_n(&l->most, &most, now, false,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		__atomic_add_fetch(&l->made, 1, __ATOMIC_RELAXED);
		usleep(1000);
		__atomic_sub_fetch(&l->open, 1, __ATOMIC_SEQ_CST);
		close(fd);
	}
	return NULL;
}

/*
 * 8 threads against max-conns 4: never more than 4 connections open at
 * once, the rest refused with EAGAIN and counted, none a failure; once all
 * are closed, the destination has none open.
 */
TEST_F_TIMEOUT(bulk, eight_threads_never_hold_more_than_max_conns, 120)
{
	struct server srv = { .lfd = self->lfd };
	pthread_t st, th[8];
	struct load l = { 0 };
	long long before = cb_status_num("rejected_bulkhead");
	long long unbounded = cb_status_num("bulkhead_unbounded");
	int i;

	ASSERT_LE(0, unbounded);
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 port %u max-conns 4",
			   self->port));
	l.len = cb_addr("127.0.0.1", self->port, &l.ss);
	ASSERT_EQ(0, pthread_create(&st, NULL, server, &srv));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, client, &l));
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&srv.stop, 1, __ATOMIC_RELAXED);
	pthread_join(st, NULL);

	/* a connect whose socket storage could not be made goes unbounded */
	unbounded = cb_status_num("bulkhead_unbounded") - unbounded;
	TH_LOG("made %d, refused %d, other errors %d, most open at once %d, unbounded %lld",
	       l.made, l.refused, l.other, l.most, unbounded);
	EXPECT_LE(l.most, 4 + unbounded);
	EXPECT_LT(0, l.made);
	EXPECT_LT(0, l.refused);
	EXPECT_EQ(0, l.other);
	EXPECT_EQ(0, breaker_num(self->port, "conns"));
	EXPECT_EQ(0, breaker_num(self->port, "failures"));
	/*
	 * Each connection made is a success, none a failure (7.3 under this
	 * load loses a few outcomes: at most the ones made)
	 */
	EXPECT_GE(l.made, breaker_num(self->port, "successes"));
	EXPECT_LT(l.made * 9 / 10, breaker_num(self->port, "successes"));
	EXPECT_EQ(l.refused, cb_status_num("rejected_bulkhead") - before);
}

struct race {
	pthread_barrier_t go, done;
	unsigned short port;
	int rounds, made;
};

/* Each round: connect at the same moment as the others, hold, close. */
static void *racer(void *arg)
{
	struct race *r = arg;
	int i, fd;

	for (i = 0; i < r->rounds; i++) {
		pthread_barrier_wait(&r->go);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && !connect(fd, (void *)&(struct sockaddr_in){
				.sin_family = AF_INET,
				.sin_port = htons(r->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
				sizeof(struct sockaddr_in)))
			__atomic_add_fetch(&r->made, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&r->done);
		pthread_barrier_wait(&r->done);	/* counted */
		close(fd);
	}
	return NULL;
}

/*
 * The first connects to a destination, at once on both CPUs: the breaker
 * one of them makes has its limit from the start, so a connect on the
 * other CPU that finds it just made is bounded too.
 */
TEST_F_TIMEOUT(bulk, a_new_breaker_bounds_its_first_connects, 120)
{
	struct race r = { .rounds = 200 };
	int i, lfd, made, over = 0;
	long long unbounded;
	pthread_t th[4];

	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 max-conns 1"));
	ASSERT_EQ(0, pthread_barrier_init(&r.go, NULL, 5));
	ASSERT_EQ(0, pthread_barrier_init(&r.done, NULL, 5));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, racer, &r));
	unbounded = cb_status_num("bulkhead_unbounded");
	for (i = 0; i < r.rounds; i++) {
		lfd = cb_listener("127.0.0.1", SOCK_STREAM, &r.port);
		ASSERT_LE(0, lfd);	/* a new port: a new breaker */
		pthread_barrier_wait(&r.go);
		pthread_barrier_wait(&r.done);
		made = __atomic_exchange_n(&r.made, 0, __ATOMIC_RELAXED);
		over += made > 1;
		pthread_barrier_wait(&r.done);
		close(lfd);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	unbounded = cb_status_num("bulkhead_unbounded") - unbounded;
	TH_LOG("%d of %d rounds made more than one, unbounded %lld",
	       over, r.rounds, unbounded);
	EXPECT_LE(over, unbounded);
}

/* A connect's errno (0: connected); the socket in *@fd. */
static int dial(unsigned short port, int *fd, int nonblock)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr("127.0.0.1", port, &ss);

	*fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (*fd < 0)
		return errno;
	return connect(*fd, (void *)&ss, len) ? errno : 0;
}

/*
 * A connection holds its place from connect to its end, in any state:
 * established or in SYN_SENT (a listener whose queue is full drops SYNs)
 * until its owner closes or disconnects it; refused by the peer (RST), at
 * once, its socket open or not.
 */
TEST_F_TIMEOUT(bulk, connections_give_their_place_back_however_they_end, 60)
{
	unsigned short dead, full;
	int s[4], q, i;

	/* a port with no listener, and one whose queue takes one connection */
	q = cb_listener("127.0.0.1", SOCK_STREAM, &dead);
	ASSERT_LE(0, q);
	close(q);
	q = cb_listener("127.0.0.1", SOCK_STREAM, &full);
	ASSERT_LE(0, q);
	ASSERT_EQ(0, listen(q, 0));
	/* no breaker opens on the refusals: min-calls out of reach */
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 window 100 "
			   "min-calls 100 max-conns 2"));

	/* established, then one in SYN_SENT, then none left */
	EXPECT_EQ(EINPROGRESS, dial(full, &s[0], 1));
	usleep(100000);
	EXPECT_EQ(EINPROGRESS, dial(full, &s[1], 1));
	EXPECT_EQ(EAGAIN, dial(full, &s[2], 1));
	close(s[2]);
	EXPECT_EQ(2, breaker_num(full, "conns"));
	close(s[1]);			/* in SYN_SENT */
	EXPECT_EQ(1, breaker_num(full, "conns"));
	/* connect() again (how a non-blocking one learns it is done) takes
	 * no second place
	 */
	EXPECT_EQ(0, connect(s[0], (void *)&(struct sockaddr_in){
		.sin_family = AF_INET, .sin_port = htons(full),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
		sizeof(struct sockaddr_in)) ? errno : 0);
	EXPECT_EQ(1, breaker_num(full, "conns"));
	close(s[0]);			/* established */
	EXPECT_EQ(0, breaker_num(full, "conns"));

	/* disconnected (connect(AF_UNSPEC)) while its socket stays open */
	EXPECT_EQ(EINPROGRESS, dial(full, &s[3], 1));
	EXPECT_EQ(1, breaker_num(full, "conns"));
	EXPECT_EQ(0, connect(s[3], &(struct sockaddr){ .sa_family = AF_UNSPEC },
			     sizeof(struct sockaddr)));
	EXPECT_EQ(0, breaker_num(full, "conns"));
	close(s[3]);
	EXPECT_EQ(0, breaker_num(full, "conns"));
	close(q);

	/* refused, blocking or not: its place is back before its close */
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(ECONNREFUSED, dial(dead, &s[i], 0));
		EXPECT_EQ(0, breaker_num(dead, "conns"));
	}
	for (i = 0; i < 3; i++)
		close(s[i]);
	for (i = 0; i < 3; i++)
		dial(dead, &s[i], 1);
	usleep(200000);			/* the RSTs */
	EXPECT_EQ(0, breaker_num(dead, "conns"));
	EXPECT_NE(EAGAIN, dial(dead, &s[3], 1));
	for (i = 0; i < 4; i++)
		close(s[i]);
	EXPECT_EQ(0, breaker_num(dead, "rejected"));
}

TEST_HARNESS_MAIN
