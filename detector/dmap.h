/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Turning on the kernel programs' direct-map reads of user strings (bpf/events.h, struct
 * lanner_dmap; docs/detector.md, "Reading paths without the helper").
 */
#ifndef LANNER_DETECTOR_DMAP_H
#define LANNER_DETECTOR_DMAP_H

#include <stddef.h>
#include <stdint.h>

struct bpf_object;

/*
 * In a loaded lanner BPF object (its lanner_dmap variable in .bss and its lanner_dmap_calib
 * program), before any program is attached: reads the RAM ranges (/proc/iomem) and the paging
 * depth, derives the direct map's start from a packet socket's receive ring mapped by this
 * process (the kernel address of its blocks, reported by lanner_dmap_calib, against their
 * physical address in /proc/self/pagemap), then reads test strings of its own through the programs' fast path and
 * compares them with what it wrote. Only when all of that holds is the fast path left on
 * (*base_out, when non-NULL, gets the direct map's start) and 0 returned. Otherwise the programs
 * read every string with the helper, as they would without this call, and a negative errno
 * comes back with a one-line reason in err; -ENOTRECOVERABLE means even that could not be ensured, and the
 * programs must not be attached. Not attempted with memory encryption (SME, SEV, TDX). Needs
 * root (pagemap's frame numbers, CAP_NET_RAW for the packet socket).
 */
int dmap_enable(struct bpf_object *obj, uint64_t *base_out, char *err, size_t errlen);

#endif /* LANNER_DETECTOR_DMAP_H */
