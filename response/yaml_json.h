/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RESPONSE_YAML_JSON_H
#define LANNER_RESPONSE_YAML_JSON_H

#include <stddef.h>
#include <jansson.h>

/*
 * A YAML document (kubeconfig, response policy file) as a jansson tree. Plain scalars become
 * null (~, null, empty), booleans (true/false), integers, or strings; quoted scalars are always
 * strings. Anchors, aliases and tags are refused. Errors carry "name:line:col: reason" in err.
 * Returns a new reference, or NULL (errno EINVAL, ENOENT, ENOMEM ...).
 */
json_t *yaml_json_load_file(const char *path, char *err, size_t errlen);
json_t *yaml_json_load_buffer(const char *name, const char *buf, size_t len, char *err,
			      size_t errlen);

#endif
