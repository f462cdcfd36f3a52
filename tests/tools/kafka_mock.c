// SPDX-License-Identifier: Apache-2.0
/*
 * kafka_mock: librdkafka's mock cluster (real Kafka protocol on loopback ports) for tests.
 *
 * usage: kafka_mock [-b BROKERS] [-t TOPIC[:PARTITIONS]]...
 *
 * Starts a cluster of BROKERS brokers (default 3), creates each -t topic (default 4 partitions,
 * replication factor min(3, BROKERS)), prints "BOOTSTRAP host:port,host:port,..." on stdout and
 * then reads commands on stdin, one per line, answering each with one "OK ..." or "ERR ..."
 * line:
 *
 *	down                      every broker disconnects its clients and refuses new ones
 *	up                        every broker accepts connections again
 *	rtt MS                    every broker answers MS milliseconds late (0: no delay)
 *	errors APIKEY CODE COUNT  the next COUNT requests of APIKEY (0 = Produce) fail with the
 *	                          Kafka error CODE (e.g. 10 MSG_SIZE_TOO_LARGE, 29
 *	                          TOPIC_AUTHORIZATION_FAILED, 7 REQUEST_TIMED_OUT)
 *	topic NAME PARTITIONS     create a topic
 *	dump TOPIC                print every message of TOPIC as "MSG <partition> <offset>
 *	                          <key-hex|-> <value-hex>" lines, then "OK <count>"
 *	ping                      "OK pong"
 *
 * At EOF on stdin it stays up until SIGTERM or SIGINT, and exits 0 after destroying the cluster.
 * Messages are also readable with `kcat -b BOOTSTRAP -C -t TOPIC -e -o beginning`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;

	if (!p) {
		fputs("-", stdout);
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	if (!n)
		fputs("-", stdout);
}

/* Consume every partition of topic from the beginning to its end, printing MSG lines. */
static int dump(const char *bootstrap, const char *topic)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_t *rk;
	long count = 0;
	int eofs = 0, n = 0, rc = -1;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "group.id", "kafka_mock_dump", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))) {
		reply("ERR %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		reply("ERR %s", errstr);
		return -1;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
		reply("ERR no metadata for topic %s", topic);
		goto out;
	}
	n = md->topics[0].partition_cnt;
	parts = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
			->offset = RD_KAFKA_OFFSET_BEGINNING;
	if (rd_kafka_assign(rk, parts)) {
		reply("ERR assign failed");
		goto out;
	}
	while (eofs < n) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);

		if (!m) {
			reply("ERR timed out after %ld messages", count);
			goto out;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eofs++;
		} else if (m->err) {
			reply("ERR %s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			goto out;
		} else {
			printf("MSG %d %lld ", (int)m->partition, (long long)m->offset);
			hex(m->key, m->key_len);
			putchar(' ');
			hex(m->payload, m->len);
			putchar('\n');
			count++;
		}
		rd_kafka_message_destroy(m);
	}
	reply("OK %ld", count);
	rc = 0;
out:
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

static void command(rd_kafka_mock_cluster_t *mc, int brokers, char *line)
{
	char *argv[8];
	int argc = 0;

	for (char *tok = strtok(line, " \t\r\n"); tok && argc < 8; tok = strtok(NULL, " \t\r\n"))
		argv[argc++] = tok;
	if (!argc)
		return;
	if (!strcmp(argv[0], "ping")) {
		reply("OK pong");
	} else if (!strcmp(argv[0], "down") || !strcmp(argv[0], "up")) {
		bool down = argv[0][0] == 'd';

		for (int id = 1; id <= brokers; id++) {
			rd_kafka_resp_err_t err = down ? rd_kafka_mock_broker_set_down(mc, id) :
							 rd_kafka_mock_broker_set_up(mc, id);
			if (err) {
				reply("ERR broker %d: %s", id, rd_kafka_err2str(err));
				return;
			}
		}
		reply("OK %s", argv[0]);
	} else if (!strcmp(argv[0], "rtt") && argc == 2) {
		for (int id = 1; id <= brokers; id++)
			rd_kafka_mock_broker_set_rtt(mc, id, atoi(argv[1]));
		reply("OK rtt");
	} else if (!strcmp(argv[0], "errors") && argc == 4) {
		int16_t api = (int16_t)atoi(argv[1]);
		rd_kafka_resp_err_t code = (rd_kafka_resp_err_t)atoi(argv[2]);
		size_t cnt = (size_t)atol(argv[3]);
		rd_kafka_resp_err_t *errs = calloc(cnt ? cnt : 1, sizeof(*errs));

		if (!errs) {
			reply("ERR out of memory");
			return;
		}
		for (size_t i = 0; i < cnt; i++)
			errs[i] = code;
		rd_kafka_mock_push_request_errors_array(mc, api, cnt, errs);
		free(errs);
		reply("OK errors");
	} else if (!strcmp(argv[0], "topic") && argc == 3) {
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, argv[1], atoi(argv[2]),
								     brokers < 3 ? brokers : 3);

		if (err)
			reply("ERR %s", rd_kafka_err2str(err));
		else
			reply("OK topic");
	} else if (!strcmp(argv[0], "dump") && argc == 2) {
		dump(rd_kafka_mock_cluster_bootstraps(mc), argv[1]);
	} else {
		reply("ERR unknown command '%s'", argv[0]);
	}
}

int main(int argc, char **argv)
{
	char errstr[256], line[512];
	struct sigaction sa = { .sa_handler = on_signal };
	rd_kafka_conf_t *conf;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *rk;
	sigset_t set, old;
	int brokers = 3, c;

	while ((c = getopt(argc, argv, "b:t:")) != -1) {
		if (c == 'b' && atoi(optarg) > 0) {
			brokers = atoi(optarg);
		} else if (c != 't') {
			fprintf(stderr,
				"usage: kafka_mock [-b BROKERS] [-t TOPIC[:PARTITIONS]]...\n");
			return 2;
		}
	}

	/* No SA_RESTART: a signal interrupts the blocking read of stdin. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The cluster needs a client instance for its bookkeeping; it connects nowhere. */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	optind = 1;
	while ((c = getopt(argc, argv, "b:t:")) != -1) {
		char *colon;
		int parts = 4;

		if (c != 't')
			continue;
		colon = strchr(optarg, ':');
		if (colon) {
			*colon = '\0';
			parts = atoi(colon + 1) > 0 ? atoi(colon + 1) : 1;
		}
		if (rd_kafka_mock_topic_create(mc, optarg, parts, brokers < 3 ? brokers : 3)) {
			fprintf(stderr, "kafka_mock: cannot create topic %s\n", optarg);
			rd_kafka_mock_cluster_destroy(mc);
			rd_kafka_destroy(rk);
			return 1;
		}
	}
	reply("BOOTSTRAP %s", rd_kafka_mock_cluster_bootstraps(mc));

	while (!stop_flag && fgets(line, sizeof(line), stdin))
		command(mc, brokers, line);

	/* EOF: wait for the signal without racing it. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old);
	while (!stop_flag)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);

	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
