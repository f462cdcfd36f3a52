/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_SYSLOG_FORMAT_H
#define LANNER_OUTPUTS_SYSLOG_FORMAT_H

#include <stddef.h>

#include "config/priority.h"
#include "outputs/alert.h"
#include "outputs/sink.h"

/*
 * The `syslog` sink (outputs/syslog.c). This header exposes its message formatting to the unit
 * tests; the sink itself is syslog_sink_ops. (Named so it is never confused with <syslog.h>.)
 */

extern const struct sink_ops syslog_sink_ops;

enum syslog_rfc { SYSLOG_RFC5424, SYSLOG_RFC3164 };
enum syslog_payload { SYSLOG_JSON, SYSLOG_CEF };

struct syslog_fmt {
	enum syslog_rfc rfc;
	enum syslog_payload payload;
	int facility; /* 0 (kern) .. 23 (local7) */
	const char *appname; /* APP-NAME / TAG */
	int pid; /* PROCID */
	const char *hostname; /* when the alert has none; NULL = "-" */
};

/* Facility names as syslog.facility accepts them, in code order (kern = 0 ... local7 = 23). */
extern const char *const syslog_facility_names[];

/* Severity of a priority: Emergency..Debug -> LOG_EMERG (0)..LOG_DEBUG (7). */
int syslog_severity(enum priority p);
/* CEF severity: Debug 0, Informational 3, Notice 4, Warning 6, Error 7, Critical 8, Alert 9,
 * Emergency 10 (Falcosidekick's). */
int syslog_cef_severity(enum priority p);

/*
 * The CEF line of a frozen alert (FALCO-COMPAT.md section 3), with CEF escaping: '|' and '\' in
 * header fields, '=' and '\' in extension values, CR/LF as \r \n. Output fields sorted by key.
 * Caller frees; NULL on ENOMEM.
 */
char *syslog_cef(const struct alert *a, size_t *len);

/*
 * One syslog message (no transport framing): RFC 5424
 * "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG" with the alert's time in UTC to the
 * microsecond, or RFC 3164 "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG" in local time. MSG is
 * the alert's JSON or its CEF line. Caller frees; NULL on ENOMEM.
 */
char *syslog_format(const struct syslog_fmt *f, const struct alert *a, size_t *len);

#endif
