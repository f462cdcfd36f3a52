// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the input is a rules file; load, compile, evaluate and format. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct rules *r;

	if (!init) {
		ts_init();
		init = true;
	}
	if (size > 1 << 16)
		return 0;
	r = rules_new();
	if (!r)
		return 0;
	rules_set_reporter(r, fuzz_quiet, NULL);
	rules_add_source(r, &ts_source);
	/* Two loads: later items override earlier ones across files. */
	if (!rules_load_buffer(r, "a.yaml", (const char *)data, size / 2) &&
	    !rules_load_buffer(r, "b.yaml", (const char *)data + size / 2, size - size / 2) &&
	    !rules_compile(r))
		fuzz_events(r);
	rules_free(r);
	return 0;
}
