// SPDX-License-Identifier: Apache-2.0
/*
 * The detector benchmark's workloads (built by bench_detector.py with cc -O2):
 *
 *   workload fixed [OPENS FORKS CONNECTS]
 *	200,000 open/read/close of /etc/hostname, 2,000 fork+exec of /bin/true, 20,000 TCP
 *	connects to a listener on 127.0.0.1; prints one line per phase and the total:
 *	"open_read_close 0.812" (seconds).
 *   workload rate RATE SECONDS
 *	openat+close of /etc/hostname at RATE opens per second for SECONDS (paced every ms);
 *	prints "opens N seconds S".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int opens(long n)
{
	char buf[256];

	for (long i = 0; i < n; i++) {
		int fd = open("/etc/hostname", O_RDONLY);

		if (fd < 0)
			return -1;
		if (read(fd, buf, sizeof(buf)) < 0)
			return -1;
		close(fd);
	}
	return 0;
}

static int forks(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return -1;
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return -1;
	}
	return 0;
}

static int connects(long n)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 128) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		return -1;
	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), s;

		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
			return -1;
		s = accept(l, NULL, NULL);
		if (s < 0)
			return -1;
		/* the accepting side closes first: TIME_WAIT stays on the server's port */
		close(s);
		close(c);
	}
	close(l);
	return 0;
}

int main(int argc, char **argv)
{
	double t0, t1, total = 0;

	if (argc >= 2 && !strcmp(argv[1], "fixed")) {
		long n_open = argc > 2 ? atol(argv[2]) : 200000;
		long n_fork = argc > 3 ? atol(argv[3]) : 2000;
		long n_conn = argc > 4 ? atol(argv[4]) : 20000;

		t0 = now();
		if (opens(n_open))
			return perror("open"), 1;
		t1 = now();
		printf("open_read_close %.4f\n", t1 - t0);
		total += t1 - t0;
		t0 = now();
		if (forks(n_fork))
			return perror("fork"), 1;
		t1 = now();
		printf("fork_exec %.4f\n", t1 - t0);
		total += t1 - t0;
		t0 = now();
		if (connects(n_conn))
			return perror("connect"), 1;
		t1 = now();
		printf("connect %.4f\n", t1 - t0);
		total += t1 - t0;
		printf("total %.4f\n", total);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "rate")) {
		double rate = atof(argv[2]), secs = atof(argv[3]), start = now(), t;
		long done = 0;
		char buf[64];

		while ((t = now() - start) < secs) {
			long due = (long)(t * rate);

			while (done < due) {
				int fd = open("/etc/hostname", O_RDONLY);

				if (fd < 0)
					return perror("open"), 1;
				if (read(fd, buf, sizeof(buf)) < 0)
					return 1;
				close(fd);
				done++;
			}
			usleep(1000);
		}
		printf("opens %ld seconds %.3f\n", done, now() - start);
		return 0;
	}
	fprintf(stderr, "usage: workload fixed [OPENS FORKS CONNECTS] | rate RATE SECONDS\n");
	return 2;
}
