// SPDX-License-Identifier: Apache-2.0
/*
 * The per-alert JSON floor, in one process: what parsing an alert with jansson costs by itself
 * (json_loadb, then json_decref), what lanner's whole parse costs (alert_parse: jansson plus
 * the Falcosidekick validation into struct alert), and with the JSON rendered for an output
 * (alert_freeze + alert_json). Best of 7 rounds of 20,000, one core.
 *
 * usage: bench_json_floor ALERT.json [KCAT_LINES_PER_S]
 *
 * With the kcat figure of an outputs benchmark run (tests/bench/outputs/outputs_bench.sh), it
 * prints the highest Kafka/kcat ratio any lanner could reach on this machine if its two cores
 * did nothing but json_loadb: the ceiling the outputs benchmark's ratio is judged against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "outputs/alert.h"

#define N 20000
#define ROUNDS 7

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

enum what { LOADB, PARSE, PARSE_JSON };

static double per_alert_ns(enum what w, const char *buf, size_t len)
{
	double best = 0;

	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns(), d;

		for (int i = 0; i < N; i++) {
			struct alert_error err;
			json_error_t jerr;
			struct alert *a;
			json_t *j;
			size_t n;

			switch (w) {
			case LOADB:
				j = json_loadb(buf, len, 0, &jerr);
				if (!j) {
					fprintf(stderr, "json_loadb: line %d: %s\n", jerr.line,
						jerr.text);
					exit(1);
				}
				json_decref(j);
				break;
			case PARSE:
			case PARSE_JSON:
				a = alert_parse(buf, len, &err);
				if (!a) {
					fprintf(stderr, "alert_parse: %s\n", err.msg);
					exit(1);
				}
				if (w == PARSE_JSON && (alert_freeze(a) || !alert_json(a, &n)))
					exit(1);
				alert_unref(a);
				break;
			}
		}
		d = (now_ns() - t0) / N;
		if (!r || d < best)
			best = d;
	}
	return best;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	double loadb, parse, parse_json, kcat = argc > 2 ? atof(argv[2]) : 0;
	size_t len;
	FILE *f;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_json_floor ALERT.json [KCAT_LINES_PER_S]\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	loadb = per_alert_ns(LOADB, buf, len);
	parse = per_alert_ns(PARSE, buf, len);
	parse_json = per_alert_ns(PARSE_JSON, buf, len);
	printf("%zu-byte alert, ns per alert (best of %d rounds of %d):\n", len, ROUNDS, N);
	printf("  json_loadb + json_decref (jansson alone)    %8.0f\n", loadb);
	printf("  alert_parse (jansson + validation)          %8.0f\n", parse);
	printf("  alert_parse + alert_json (+ output JSON)    %8.0f\n", parse_json);
	printf("ceiling if 2 cores did nothing but json_loadb: %.0f alerts/s\n", 2e9 / loadb);
	if (kcat > 0)
		printf("against kcat -P at %.0f lines/s: Kafka/kcat ratio ceiling %.2f (target 0.5)\n",
		       kcat, 2e9 / loadb / kcat);
	return 0;
}
