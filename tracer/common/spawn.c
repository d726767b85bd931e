// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * spawn.c - run a program with an argument vector, feed its stdin, capture
 * stdout and stderr, and always reap it.
 *
 * The child is forked and only the child calls setns() before execv():
 * the caller never leaves its own namespace, so no failure here can strand
 * it in the pod's. (posix_spawnp() cannot do the setns() step, and one
 * path for both cases is one path to get right.) A failed setns()/exec is
 * reported through a close-on-exec pipe, so that "not installed" is an
 * error of st_spawn() (-ENOENT), not an exit status the caller has to
 * guess about.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "spawn.h"

#define ST_SPAWN_DEFAULT_TIMEOUT_MS 30000
/* Refuse to buffer more than this: a runaway child must not eat memory. */
#define ST_SPAWN_MAX_OUTPUT (256u << 20)

struct st_buf {
	char *data;
	size_t len;
	size_t size;
};

/* What the fork child writes to the exec-error pipe before dying. */
struct st_child_fail {
	int stage; /* ST_STAGE_* */
	int err;
};

enum {
	ST_STAGE_SETNS = 1,
	ST_STAGE_DUP,
	ST_STAGE_EXEC,
};

static void st_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * If the caller runs with fd 0, 1 or 2 closed, our pipes may land there and
 * the child's dup2() sequence would clobber one with another; keep ours
 * above 2.
 */
static int st_fd_above_stdio(int *fd)
{
	int nfd;

	if (*fd > 2)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int st_pipe(int fds[2])
{
	int ret;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	ret = st_fd_above_stdio(&fds[0]);
	if (ret == 0)
		ret = st_fd_above_stdio(&fds[1]);
	if (ret < 0) {
		st_close(&fds[0]);
		st_close(&fds[1]);
	}
	return ret;
}

static int st_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Nanoseconds: whole milliseconds would let a timeout end 1 ms early. */
static int64_t st_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Read what is there; 1 at EOF, 0 when more may come, <0 on error. */
static int st_buf_read(struct st_buf *b, int fd)
{
	for (;;) {
		ssize_t n;

		if (b->size - b->len < 4096) {
			size_t nsize = b->size ? b->size * 2 : 16384;
			char *p;

			if (nsize > ST_SPAWN_MAX_OUTPUT + 1)
				return -EFBIG;
			p = realloc(b->data, nsize);
			if (p == NULL)
				return -ENOMEM;
			b->data = p;
			b->size = nsize;
		}
		/* Keep one byte for the terminating NUL. */
		n = read(fd, b->data + b->len, b->size - b->len - 1);
		if (n > 0) {
			b->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return -errno;
	}
}

static int st_buf_finish(struct st_buf *b)
{
	if (b->data == NULL) {
		b->data = malloc(1);
		if (b->data == NULL)
			return -ENOMEM;
		b->size = 1;
	}
	b->data[b->len] = '\0';
	return 0;
}

static int st_status_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

/* Reap @pid, retrying on EINTR; the exit status or -errno. */
static int st_reap(pid_t pid, bool nohang, int *wstatus)
{
	pid_t r;

	do {
		r = waitpid(pid, wstatus, nohang ? WNOHANG : 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == pid ? 1 : 0;
}

static void st_kill_reap(pid_t pid)
{
	int ws;

	/* The whole group: a shell's or wrapper's children go too. */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	st_reap(pid, false, &ws);
}

/*
 * Look @name up in PATH here, in the parent: an unreadable directory in
 * PATH (root's pyenv under setpriv, say) makes execvp() answer EACCES for
 * a program that simply is not installed, and the child should do nothing
 * that is not async-signal-safe anyway.
 */
static int st_find_program(const char *name, char *path, size_t size)
{
	const char *dirs = getenv("PATH");
	const char *d, *end;

	if (strchr(name, '/') != NULL)
		return st_strlcpy(path, name, size) < size ? 0 : -ENAMETOOLONG;
	if (dirs == NULL || dirs[0] == '\0')
		dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (d = dirs;; d = end + 1) {
		struct stat st;
		size_t dlen;
		int n;

		end = strchrnul(d, ':');
		dlen = (size_t)(end - d);
		/* An empty entry is the current directory, as for execvp. */
		n = dlen ? snprintf(path, size, "%.*s/%s", (int)dlen, d, name)
			 : snprintf(path, size, "%s", name);
		if (n > 0 && (size_t)n < size && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(path, X_OK) == 0)
			return 0;
		if (*end == '\0')
			break;
	}
	return -ENOENT;
}

/*
 * The fork child: only async-signal-safe calls between fork() and exec.
 * Failures go to @failfd as a struct st_child_fail.
 */
static void __attribute__((noreturn))
st_child(const char *path, char *const argv[], int netns_fd, int in_fd,
	 int out_fd, int err_fd, int failfd)
{
	struct st_child_fail f = {0, 0};
	const int src[3] = {in_fd, out_fd, err_fd};
	sigset_t none;
	int i;

	/*
	 * Its own process group: the terminal's Ctrl-C is ours to handle,
	 * and must not kill the iptables-restore that cleans up after it.
	 */
	setpgid(0, 0);
	/* Start the program with default signals, whatever the caller set. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		f.stage = ST_STAGE_SETNS;
		goto fail;
	}
	for (i = 0; i < 3; i++) {
		if (dup2(src[i], i) < 0) {
			f.stage = ST_STAGE_DUP;
			goto fail;
		}
	}
	/*
	 * Descriptors the caller's libraries opened without O_CLOEXEC
	 * (libnfnetlink's socket, for one) must not reach iptables.
	 */
	syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
	execv(path, argv);
	f.stage = ST_STAGE_EXEC;
fail:
	f.err = errno;
	while (write(failfd, &f, sizeof(f)) < 0 && errno == EINTR)
		;
	_exit(127);
}

static int st_start(char *const argv[], int netns_fd, int in_fd, int out_fd,
		    int err_fd, pid_t *pid, char *err)
{
	struct st_child_fail f;
	char path[PATH_MAX];
	int fail[2] = {-1, -1};
	ssize_t n;
	int ws;
	int ret;

	ret = st_find_program(argv[0], path, sizeof(path));
	if (ret == -ENOENT)
		return st_err(
			err, ENOENT,
			"cannot run '%s': not installed (not found in PATH)",
			argv[0]);
	if (ret < 0)
		return st_err(err, -ret, "cannot run '%s': %s", argv[0],
			      strerror(-ret));
	ret = st_pipe(fail);
	if (ret < 0)
		return st_err(err, -ret, "pipe: %s", strerror(-ret));
	/* Our own namespace: no setns(), which would need CAP_SYS_ADMIN. */
	if (st_netns_is_current(netns_fd))
		netns_fd = -1;
	*pid = fork();
	if (*pid < 0) {
		ret = st_err(err, errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (*pid == 0)
		st_child(path, argv, netns_fd, in_fd, out_fd, err_fd, fail[1]);

	/* Both sides, so that a kill(-pid) right away already finds it. */
	setpgid(*pid, *pid);
	st_close(&fail[1]);
	do {
		n = read(fail[0], &f, sizeof(f));
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
		ret = 0; /* EOF: the exec succeeded and closed the pipe */
		goto out;
	}
	/* The child failed before or in exec and has exited: reap it. */
	st_reap(*pid, false, &ws);
	*pid = -1;
	if (n != (ssize_t)sizeof(f)) {
		ret = st_err(err, EIO,
			     "cannot start '%s': no report from child",
			     argv[0]);
		goto out;
	}
	switch (f.stage) {
	case ST_STAGE_SETNS:
		ret = st_err(
			err, f.err,
			"cannot run '%s': entering the network namespace failed: %s",
			argv[0], strerror(f.err));
		break;
	case ST_STAGE_EXEC:
		ret = st_err(err, f.err, "cannot run '%s' (%s): %s", argv[0],
			     path, strerror(f.err));
		break;
	default:
		ret = st_err(err, f.err, "cannot run '%s': %s", argv[0],
			     strerror(f.err));
		break;
	}
out:
	st_close(&fail[0]);
	st_close(&fail[1]);
	return ret;
}

/*
 * Pump stdin/stdout/stderr until both outputs are closed and the child is
 * gone, or the deadline passes. SIGPIPE is blocked by the caller.
 */
static int st_pump(pid_t pid, int *in_fd, const char *input, size_t input_len,
		   int *out_fd, int *err_fd, struct st_buf *out,
		   struct st_buf *errout, int64_t deadline, int *wstatus)
{
	size_t in_off = 0;
	bool exited = false;
	int pidfd;
	int ret = 0;

	/* A pidfd lets poll() wait for the exit; without one, tick. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	for (;;) {
		struct pollfd pfd[4];
		int nfd = 0, i_in = -1, i_out = -1, i_err = -1;
		int64_t left;
		int r;

		if (!exited) {
			r = st_reap(pid, true, wstatus);
			if (r < 0) {
				ret = r;
				goto out;
			}
			exited = r == 1;
		}
		if (exited && *out_fd < 0 && *err_fd < 0)
			break;

		left = deadline - st_now_ns();
		if (left <= 0) {
			ret = -ETIMEDOUT;
			goto out;
		}
		if (*in_fd >= 0) {
			pfd[nfd] = (struct pollfd){*in_fd, POLLOUT, 0};
			i_in = nfd++;
		}
		if (*out_fd >= 0) {
			pfd[nfd] = (struct pollfd){*out_fd, POLLIN, 0};
			i_out = nfd++;
		}
		if (*err_fd >= 0) {
			pfd[nfd] = (struct pollfd){*err_fd, POLLIN, 0};
			i_err = nfd++;
		}
		if (!exited && pidfd >= 0) {
			/* readable at exit: the reap at the top sees it */
			pfd[nfd++] = (struct pollfd){pidfd, POLLIN, 0};
		}
		/* In ms, rounded up so that poll() never wakes early. */
		left = (left + 999999) / 1000000;
		if (!exited && pidfd < 0 && left > 10)
			left = 10;
		r = poll(pfd, (nfds_t)nfd, left > 1000 ? 1000 : (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (i_in >= 0 && pfd[i_in].revents) {
			ssize_t n = write(*in_fd, input + in_off,
					  input_len - in_off);

			if (n > 0)
				in_off += (size_t)n;
			/*
			 * EPIPE: the program stopped reading. Not our
			 * failure; its exit status tells what happened.
			 */
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    in_off == input_len)
				st_close(in_fd);
		}
		if (i_out >= 0 && pfd[i_out].revents) {
			r = st_buf_read(out, *out_fd);
			if (r < 0) {
				ret = r;
				goto out;
			}
			if (r == 1)
				st_close(out_fd);
		}
		if (i_err >= 0 && pfd[i_err].revents) {
			r = st_buf_read(errout, *err_fd);
			if (r < 0) {
				ret = r;
				goto out;
			}
			if (r == 1)
				st_close(err_fd);
		}
	}
out:
	if (pidfd >= 0)
		close(pidfd);
	if (ret < 0 && !exited)
		st_kill_reap(pid);
	return ret;
}

int st_spawn(char *const argv[], int netns_fd, const char *input,
	     size_t input_len, int timeout_ms, struct st_spawn_result *res,
	     char *err)
{
	struct st_buf out = {NULL, 0, 0}, errout = {NULL, 0, 0};
	int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
	sigset_t pipe_set, old_mask, pending;
	bool sigpipe_was_pending = false, masked = false;
	int64_t deadline;
	pid_t pid = -1;
	int wstatus = 0;
	int ret;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0' ||
	    res == NULL)
		return st_err(err, EINVAL, "st_spawn: no program given");
	if (timeout_ms <= 0)
		timeout_ms = ST_SPAWN_DEFAULT_TIMEOUT_MS;
	if (input == NULL)
		input_len = 0;

	if (input != NULL) {
		ret = st_pipe(in);
	} else {
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ret = in[0] < 0 ? -errno : st_fd_above_stdio(&in[0]);
	}
	if (ret == 0)
		ret = st_pipe(o);
	if (ret == 0)
		ret = st_pipe(e);
	if (ret < 0) {
		ret = st_err(err, -ret, "cannot create pipes for '%s': %s",
			     argv[0], strerror(-ret));
		goto out;
	}

	/*
	 * A child that exits before reading all of its input must not kill
	 * us with SIGPIPE: block it in this thread while we write, and
	 * swallow the one we caused before unblocking.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	masked = true;
	if (sigpending(&pending) == 0)
		sigpipe_was_pending = sigismember(&pending, SIGPIPE) == 1;

	deadline = st_now_ns() + (int64_t)timeout_ms * 1000000;
	ret = st_start(argv, netns_fd, in[0], o[1], e[1], &pid, err);
	if (ret < 0)
		goto out;

	/* Our copies of the child's ends must go, or EOF never comes. */
	st_close(&in[0]);
	st_close(&o[1]);
	st_close(&e[1]);
	if (in[1] >= 0 && input_len == 0)
		st_close(&in[1]);
	if ((in[1] >= 0 && (ret = st_set_nonblock(in[1])) < 0) ||
	    (ret = st_set_nonblock(o[0])) < 0 ||
	    (ret = st_set_nonblock(e[0])) < 0) {
		st_kill_reap(pid);
		ret = st_err(err, -ret, "fcntl: %s", strerror(-ret));
		goto out;
	}

	ret = st_pump(pid, &in[1], input, input_len, &o[0], &e[0], &out,
		      &errout, deadline, &wstatus);
	if (ret == -ETIMEDOUT) {
		ret = st_err(err, ETIMEDOUT,
			     "'%s' did not finish within %d ms and was killed",
			     argv[0], timeout_ms);
		goto out;
	}
	if (ret < 0) {
		ret = st_err(err, -ret, "running '%s': %s", argv[0],
			     ret == -EFBIG ? "output too large"
					   : strerror(-ret));
		goto out;
	}
	ret = st_buf_finish(&out);
	if (ret == 0)
		ret = st_buf_finish(&errout);
	if (ret < 0) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	res->status = st_status_code(wstatus);
	res->out = out.data;
	res->out_len = out.len;
	res->errout = errout.data;
	res->err_len = errout.len;
	out.data = NULL;
	errout.data = NULL;
out:
	st_close(&in[0]);
	st_close(&in[1]);
	st_close(&o[0]);
	st_close(&o[1]);
	st_close(&e[0]);
	st_close(&e[1]);
	if (masked) {
		if (!sigpipe_was_pending && sigpending(&pending) == 0 &&
		    sigismember(&pending, SIGPIPE) == 1) {
			struct timespec zero = {0, 0};

			sigtimedwait(&pipe_set, NULL, &zero);
		}
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	}
	free(out.data);
	free(errout.data);
	return ret;
}

const char *st_spawn_errline(const struct st_spawn_result *res, char *buf,
			     size_t size)
{
	const char *s = "";
	size_t n = 0;

	if (buf == NULL || size == 0)
		return buf;
	if (res != NULL && res->errout != NULL && res->errout[0] != '\0')
		s = res->errout;
	else if (res != NULL && res->out != NULL)
		s = res->out;
	for (; *s != '\0' && n + 1 < size; s++) {
		char c = *s;

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c >= 0x7f)
			c = '?';
		buf[n++] = c;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

void st_spawn_result_free(struct st_spawn_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->errout);
	memset(res, 0, sizeof(*res));
}
