// SPDX-License-Identifier: Apache-2.0
/*
 * messageformat templates (a Go text/template subset) and the helpers the chat and HTTP
 * outputs share. Go is the reference because users' messageformat strings and the request
 * bodies they expect come from Falcosidekick, a Go program.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>

#include "config/log.h"
#include "config/strbuf.h"
#include "outputs/template.h"

/* --- a growable string ------------------------------------------------------------------ */

/* The built string (never NULL unless out of memory); the buffer is handed over. */
static char *sb_take(struct strbuf *b)
{
	if (!b->oom && !b->p)
		strbuf_add(b, "", 0);
	if (b->oom) {
		free(b->p);
		b->p = NULL;
	}
	return b->p;
}

/* --- Go-style printing of values -------------------------------------------------------- */

static void print_real(struct strbuf *b, double d)
{
	char buf[64];

	/* The shortest text that reads back as the same double, as Go's %v does. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	strbuf_puts(b, buf);
}

static void print_scalar(struct strbuf *b, const json_t *v, const char *null_text)
{
	char buf[32];

	if (!v) {
		strbuf_puts(b, null_text);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		strbuf_puts(b, buf);
		break;
	case JSON_REAL:
		print_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		strbuf_puts(b, "true");
		break;
	case JSON_FALSE:
		strbuf_puts(b, "false");
		break;
	default:
		strbuf_puts(b, null_text);
		break;
	}
}

static int key_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

const char **chat_sorted_keys(const json_t *obj, size_t *n)
{
	size_t cnt = json_object_size(obj), i = 0;
	const char **keys = calloc(cnt ? cnt : 1, sizeof(*keys));
	const char *k;
	json_t *v;

	*n = 0;
	if (!keys)
		return NULL;
	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, i, sizeof(*keys), key_cmp);
	*n = i;
	return keys;
}

/* fmt's %v of what encoding/json decodes (with UseNumber): "[a b]", "map[k:v]", "<nil>". */
static void go_print(struct strbuf *b, const json_t *v, bool top)
{
	if (json_is_array(v)) {
		strbuf_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_puts(b, " ");
			go_print(b, json_array_get(v, i), false);
		}
		strbuf_puts(b, "]");
	} else if (json_is_object(v)) {
		size_t n;
		const char **keys = chat_sorted_keys(v, &n);

		if (!keys) {
			b->oom = true;
			return;
		}
		strbuf_puts(b, "map[");
		for (size_t i = 0; i < n; i++) {
			if (i)
				strbuf_puts(b, " ");
			strbuf_puts(b, keys[i]);
			strbuf_puts(b, ":");
			go_print(b, json_object_get(v, keys[i]), false);
		}
		strbuf_puts(b, "]");
		free(keys);
	} else {
		/* text/template turns a nil interface into an invalid value: "<no value>". */
		print_scalar(b, v, top ? "<no value>" : "<nil>");
	}
}

char *chat_value_string(const json_t *v, const char *null_text)
{
	struct strbuf b = { 0 };

	if (json_is_array(v) || json_is_object(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		if (!s)
			errno = ENOMEM;
		return s;
	}
	print_scalar(&b, v, null_text);
	return sb_take(&b);
}

char *chat_join_tags(const json_t *tags, const char *sep)
{
	struct strbuf b = { 0 };

	for (size_t i = 0; i < json_array_size(tags); i++) {
		const char *t = json_string_value(json_array_get(tags, i));

		if (!t)
			continue;
		if (b.len)
			strbuf_puts(&b, sep);
		strbuf_puts(&b, t);
	}
	return sb_take(&b);
}

size_t chat_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

char *chat_truncate(const char *s, size_t max)
{
	struct strbuf b = { 0 };
	size_t chars = 0;
	const char *p;

	if (chat_utf8_len(s) <= max) {
		strbuf_puts(&b, s);
		return sb_take(&b);
	}
	for (p = s; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && ++chars == max)
			break;
	}
	strbuf_add(&b, s, (size_t)(p - s));
	strbuf_puts(&b, "\xe2\x80\xa6");
	return sb_take(&b);
}

char *chat_html_escape(const char *s)
{
	struct strbuf b = { 0 };

	for (; *s; s++) {
		if (*s == '&')
			strbuf_puts(&b, "&amp;");
		else if (*s == '<')
			strbuf_puts(&b, "&lt;");
		else if (*s == '>')
			strbuf_puts(&b, "&gt;");
		else
			strbuf_add(&b, s, 1);
	}
	return sb_take(&b);
}

const char *chat_color(enum priority p)
{
	switch (p) {
	case PRIORITY_EMERGENCY:
	case PRIORITY_ERROR:
		return "#e20b0b";
	case PRIORITY_ALERT:
	case PRIORITY_CRITICAL:
		return "#ff5400";
	case PRIORITY_WARNING:
		return "#ffc700";
	case PRIORITY_NOTICE:
		return "#5bffb5";
	case PRIORITY_INFORMATIONAL:
		return "#68c2ff";
	default:
		return "#ccfff2";
	}
}

void chat_go_time(int64_t time_ns, char *buf, size_t len)
{
	int64_t sec = time_ns / 1000000000, frac = time_ns % 1000000000;
	time_t t;
	struct tm tm;
	char fs[16] = "";
	int n;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	/* Layout "2006-01-02 15:04:05.999999999 -0700 MST": trailing zeros of the fraction go. */
	if (frac) {
		snprintf(fs, sizeof(fs), ".%09" PRId64, frac);
		for (n = (int)strlen(fs); fs[n - 1] == '0'; n--)
			fs[n - 1] = '\0';
	}
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d%s +0000 UTC", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fs);
}

char *chat_json_dumps(const json_t *j, size_t *len)
{
	char *raw = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	struct strbuf b = { 0 };
	const unsigned char *s;
	char *out;

	if (!raw) {
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * jansson and Go agree on everything but these, which only occur inside strings: Go
	 * escapes HTML characters and the JavaScript line separators, and writes hex in lower case.
	 */
	for (s = (const unsigned char *)raw; *s; s++) {
		if (*s == '\\') {
			strbuf_add(&b, (const char *)s, 2);
			if (s[1] == 'u') {
				for (int i = 2; i < 6; i++) {
					char c = (char)tolower(s[i]);

					strbuf_add(&b, &c, 1);
				}
				s += 5;
			} else {
				s++;
			}
		} else if (*s == '<') {
			strbuf_puts(&b, "\\u003c");
		} else if (*s == '>') {
			strbuf_puts(&b, "\\u003e");
		} else if (*s == '&') {
			strbuf_puts(&b, "\\u0026");
		} else if (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
			strbuf_puts(&b, s[2] == 0xa8 ? "\\u2028" : "\\u2029");
			s += 2;
		} else {
			strbuf_add(&b, (const char *)s, 1);
		}
	}
	strbuf_puts(&b, "\n");
	free(raw);
	out = sb_take(&b);
	if (!out)
		errno = ENOMEM;
	else if (len)
		*len = b.len;
	return out;
}

char *chat_label_name(const char *field)
{
	struct strbuf b = { 0 };

	if (isdigit((unsigned char)*field))
		strbuf_puts(&b, "_");
	for (const char *p = field; *p; p++) {
		char c = *p;

		if (c == '[' || c == ']')
			continue;
		if (!isalnum((unsigned char)c) && c != '_')
			c = '_';
		strbuf_add(&b, &c, 1);
	}
	return sb_take(&b);
}

/* --- shared HTTP settings ---------------------------------------------------------------- */

int chat_http_init(struct chat_http *h, const char *name, struct config *cfg)
{
	h->cert_file = h->key_file = h->ca_file = NULL;
	if (http_client_load(name))
		return -ELIBACC;
	if (!h->mutualtls)
		return 0;
	h->cert_file = config_get(cfg, "mutualtlsclient.certfile");
	h->key_file = config_get(cfg, "mutualtlsclient.keyfile");
	h->ca_file = config_get(cfg, "mutualtlsclient.cacertfile");
	if (!h->cert_file || !*h->cert_file || !h->key_file || !*h->key_file) {
		log_error("%s: %s.mutualtls is on but mutualtlsclient.certfile and "
			  "mutualtlsclient.keyfile are not both set",
			  name, name);
		return -EINVAL;
	}
	if (h->ca_file && !*h->ca_file)
		h->ca_file = NULL;
	return 0;
}

void chat_http_apply(const struct chat_http *h, struct http_request *req)
{
	req->insecure = !h->checkcert;
	req->timeout_ms = (long)h->timeout_ms;
	req->cert_file = h->cert_file;
	req->key_file = h->key_file;
	req->ca_file = h->ca_file;
}

struct http_header *chat_headers(const struct config_map *custom, const char *content_type,
				 const struct http_header *extra, size_t n_extra, size_t *n)
{
	struct http_header *h = calloc(1 + n_extra + (custom ? custom->n : 0), sizeof(*h));
	size_t k = 0;

	*n = 0;
	if (!h)
		return NULL;
	for (size_t i = 0; custom && i < custom->n; i++) {
		if (!http_header_valid(custom->keys[i], custom->values[i])) {
			log_error("customheaders: invalid header '%s' (a name is a token, a value "
				  "has no line break)",
				  custom->keys[i]);
			free(h);
			errno = EINVAL;
			return NULL;
		}
	}
	for (size_t i = 0; content_type && custom && i < custom->n; i++)
		if (!strcasecmp(custom->keys[i], "Content-Type"))
			content_type = NULL;
	if (content_type)
		h[k++] = (struct http_header){ "Content-Type", content_type };
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i].value)
			h[k++] = extra[i];
	for (size_t i = 0; custom && i < custom->n; i++)
		h[k++] = (struct http_header){ custom->keys[i], custom->values[i] };
	*n = k;
	return h;
}

char *chat_basic_auth(const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password), in_len = ul + 1 + pl;
	unsigned char *in = malloc(in_len + 1);
	char *out = malloc(6 + 4 * ((in_len + 2) / 3) + 1);

	if (!in || !out) {
		free(in);
		free(out);
		return NULL;
	}
	memcpy(in, user, ul);
	in[ul] = ':';
	memcpy(in + ul + 1, password, pl);
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, in, (int)in_len);
	free(in);
	return out;
}

json_t *chat_sorted_object(const json_t *obj)
{
	size_t n;
	const char **keys = chat_sorted_keys(obj, &n);
	json_t *out = keys ? json_object() : NULL;

	for (size_t i = 0; out && i < n; i++) {
		if (json_object_set(out, keys[i], json_object_get(obj, keys[i]))) {
			json_decref(out);
			out = NULL;
		}
	}
	free(keys);
	return out;
}

char *chat_join_url(const char *base, const char *path)
{
	size_t bl = strlen(base), n;
	char *url;

	while (bl && base[bl - 1] == '/')
		bl--;
	path = path ? path : "";
	n = bl + strlen(path) + 2;
	url = malloc(n);
	if (url)
		snprintf(url, n, "%.*s%s%s", (int)bl, base, *path && *path != '/' ? "/" : "", path);
	return url;
}

int chat_check_url(const char *option, const char *url)
{
	if (url && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) &&
	    url[strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")] == ':')
		return 0;
	log_error("%s: '%s' is not an http:// or https:// URL", option, url ? url : "");
	return -EINVAL;
}

/* --- one HTTP request per send ------------------------------------------------------------ */

struct chat_req {
	struct sink *s;
	void *token;
};

static void chat_http_done(void *data, const struct http_response *resp)
{
	struct chat_req *r = data;
	struct sink_status st;

	http_response_status(resp, &st);
	sink_done(r->s, r->token, &st);
	free(r);
}

int chat_http_send(struct sink *s, struct http_client *http, const struct http_request *req,
		   void *token)
{
	struct chat_req *r = malloc(sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->s = s;
	r->token = token;
	err = http_client_request(http, req, chat_http_done, r);
	if (err)
		free(r);
	return err;
}

/* --- templates ---------------------------------------------------------------------------- */

enum node_kind {
	NODE_TEXT,
	NODE_OUTPUT,
	NODE_PRIORITY,
	NODE_RULE,
	NODE_TIME,
	NODE_SOURCE,
	NODE_HOSTNAME,
	NODE_TAGS,
	NODE_UUID,
	NODE_FIELDS, /* {{ .OutputFields }} */
	NODE_FIELD, /* {{ index .OutputFields "key" }} */
};

static const struct {
	const char *name;
	enum node_kind kind;
} template_fields[] = {
	{ ".Output", NODE_OUTPUT },	  { ".Priority", NODE_PRIORITY },
	{ ".Rule", NODE_RULE },		  { ".Time", NODE_TIME },
	{ ".Source", NODE_SOURCE },	  { ".Hostname", NODE_HOSTNAME },
	{ ".Tags", NODE_TAGS },		  { ".UUID", NODE_UUID },
	{ ".OutputFields", NODE_FIELDS },
};

#define TEMPLATE_KNOWN                                                                       \
	"known: .Output .Priority .Rule .Time .Source .Hostname .Tags .UUID .OutputFields, " \
	"index .OutputFields \"name\""

struct node {
	enum node_kind kind;
	char *text; /* NODE_TEXT: the text; NODE_FIELD: the key */
	size_t len;
};

struct template
{
	struct node *nodes;
	size_t n, cap;
};

void template_free(struct template *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->nodes[i].text);
	free(t->nodes);
	free(t);
}

static int add_node(struct template *t, enum node_kind kind, const char *text, size_t len)
{
	struct node *nd;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;

		nd = reallocarray(t->nodes, cap, sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		t->nodes = nd;
		t->cap = cap;
	}
	nd = &t->nodes[t->n];
	nd->kind = kind;
	nd->text = NULL;
	nd->len = len;
	if (text) {
		nd->text = malloc(len + 1);
		if (!nd->text)
			return -ENOMEM;
		memcpy(nd->text, text, len);
		nd->text[len] = '\0';
	}
	t->n++;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The action as the user wrote it, for messages: "{{ .Foo }}", cut at 80 bytes. */
static void quote_action(char *dst, size_t len, const char *start, size_t n)
{
	if (n > 80)
		snprintf(dst, len, "%.77s...", start);
	else
		snprintf(dst, len, "%.*s", (int)n, start);
}

/* Find the "}}" closing the action whose body starts at p, skipping string literals. */
static const char *find_close(const char *p)
{
	for (; *p; p++) {
		if (*p == '"' || *p == '`') {
			char q = *p;

			for (p++; *p && *p != q; p++)
				if (q == '"' && *p == '\\' && p[1])
					p++;
			if (!*p)
				return NULL;
		} else if (p[0] == '}' && p[1] == '}') {
			return p;
		}
	}
	return NULL;
}

/*
 * Decode the Go string literal at *p ("..." with escapes, or `raw`) into a fresh string,
 * advancing *p. Returns NULL (errno EINVAL) on a bad literal, or ENOMEM.
 */
static char *parse_string(const char **p, const char *end)
{
	struct strbuf b = { 0 };
	const char *s = *p;
	char q = *s++;

	while (s < end && *s != q) {
		char c = *s++;

		if (q == '"' && c == '\\') {
			if (s >= end)
				goto bad;
			switch (*s++) {
			case '\\':
				c = '\\';
				break;
			case '"':
				c = '"';
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			default:
				goto bad;
			}
		}
		strbuf_add(&b, &c, 1);
	}
	if (s >= end)
		goto bad;
	*p = s + 1;
	if (!sb_take(&b)) {
		errno = ENOMEM;
		return NULL;
	}
	return b.p;
bad:
	free(b.p);
	errno = EINVAL;
	return NULL;
}

/* Split an action body into at most 4 tokens; string literals stay whole. */
static int tokenize(const char *p, const char *end, const char *tok[4], size_t tlen[4])
{
	int n = 0;

	while (p < end) {
		const char *start;

		while (p < end && is_space(*p))
			p++;
		if (p >= end)
			break;
		if (n == 4)
			return -1;
		start = p;
		if (*p == '"' || *p == '`') {
			char q = *p++;

			for (; p < end && *p != q; p++)
				if (q == '"' && *p == '\\')
					p++;
			if (p >= end)
				return -1;
			p++;
		} else {
			while (p < end && !is_space(*p))
				p++;
		}
		tok[n] = start;
		tlen[n] = (size_t)(p - start);
		n++;
	}
	return n;
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(tok, word, len);
}

/* Compile one action body [p, end); act/act_len is the whole action for messages. */
static int compile_action(struct template *t, const char *p, const char *end, const char *act,
			  size_t act_len, char *err, size_t errlen)
{
	const char *tok[4];
	size_t tlen[4];
	char shown[96];
	int n = tokenize(p, end, tok, tlen);

	quote_action(shown, sizeof(shown), act, act_len);
	if (n == 1 && tok[0][0] == '.') {
		for (size_t i = 0; i < sizeof(template_fields) / sizeof(template_fields[0]); i++)
			if (tok_is(tok[0], tlen[0], template_fields[i].name))
				return add_node(t, template_fields[i].kind, NULL, 0);
		snprintf(err, errlen, "unknown placeholder '%s' (%s)", shown, TEMPLATE_KNOWN);
		return -EINVAL;
	}
	if (n == 3 && tok_is(tok[0], tlen[0], "index") &&
	    tok_is(tok[1], tlen[1], ".OutputFields") && (tok[2][0] == '"' || tok[2][0] == '`')) {
		const char *s = tok[2];
		char *key = parse_string(&s, tok[2] + tlen[2]);
		int r;

		if (!key) {
			if (errno == ENOMEM)
				return -ENOMEM;
			snprintf(err, errlen, "bad string in placeholder '%s'", shown);
			return -EINVAL;
		}
		r = add_node(t, NODE_FIELD, key, strlen(key));
		free(key);
		return r;
	}
	if (n == 0)
		snprintf(err, errlen, "empty placeholder '%s'", shown);
	else
		snprintf(err, errlen, "unsupported placeholder '%s' (%s)", shown, TEMPLATE_KNOWN);
	return -EINVAL;
}

static int compile(struct template *t, const char *s, char *err, size_t errlen)
{
	bool trim_next = false;

	for (;;) {
		const char *open, *body, *close, *bend;
		size_t tlen;
		int r;

		if (trim_next)
			while (is_space(*s))
				s++;
		open = strstr(s, "{{");
		tlen = open ? (size_t)(open - s) : strlen(s);
		if (open && open[2] == '-' && is_space(open[3]))
			while (tlen && is_space(s[tlen - 1]))
				tlen--;
		if (tlen && (r = add_node(t, NODE_TEXT, s, tlen)))
			return r;
		if (!open)
			return 0;

		body = open + 2;
		if (body[0] == '-' && is_space(body[1]))
			body += 2;
		/* A comment, as Go lexes it: slash-star right after the delimiter, star-slash, "}}". */
		if (body[0] == '/' && body[1] == '*') {
			const char *end = strstr(body + 2, "*/");

			if (end) {
				end += 2;
				trim_next = !strncmp(end, " -}}", 4);
				if (trim_next)
					end += 2;
				if (!strncmp(end, "}}", 2)) {
					s = end + 2;
					continue;
				}
			}
		}
		close = find_close(body);
		if (!close) {
			char shown[96];

			quote_action(shown, sizeof(shown), open, strlen(open));
			snprintf(err, errlen, "unterminated placeholder '%s' (no closing }})",
				 shown);
			return -EINVAL;
		}
		bend = close;
		trim_next = false;
		if (bend - body >= 2 && bend[-1] == '-' && is_space(bend[-2])) {
			bend -= 2;
			trim_next = true;
		}
		while (body < bend && is_space(*body))
			body++;
		while (bend > body && is_space(bend[-1]))
			bend--;
		if (body[0] == '/' && body[1] == '*') {
			char shown[96];

			quote_action(shown, sizeof(shown), open, (size_t)(close + 2 - open));
			snprintf(err, errlen, "unterminated comment '%s'", shown);
			return -EINVAL;
		}
		r = compile_action(t, body, bend, open, (size_t)(close + 2 - open), err, errlen);
		if (r)
			return r;
		s = close + 2;
	}
}

struct template *template_compile(const char *text, char *err, size_t errlen)
{
	struct template *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return NULL;
	if (errlen)
		err[0] = '\0';
	r = compile(t, text ? text : "", err, errlen);
	if (r) {
		template_free(t);
		errno = -r;
		return NULL;
	}
	return t;
}

char *template_render(const struct template *t, const struct alert *a)
{
	struct strbuf b = { 0 };
	char tb[64];

	for (size_t i = 0; i < t->n; i++) {
		const struct node *nd = &t->nodes[i];

		switch (nd->kind) {
		case NODE_TEXT:
			strbuf_add(&b, nd->text, nd->len);
			break;
		case NODE_OUTPUT:
			strbuf_puts(&b, alert_output(a));
			break;
		case NODE_PRIORITY:
			strbuf_puts(&b, priority_name(alert_priority(a)));
			break;
		case NODE_RULE:
			strbuf_puts(&b, alert_rule(a));
			break;
		case NODE_TIME:
			chat_go_time(alert_time_ns(a), tb, sizeof(tb));
			strbuf_puts(&b, tb);
			break;
		case NODE_SOURCE:
			strbuf_puts(&b, alert_source(a));
			break;
		case NODE_HOSTNAME:
			strbuf_puts(&b, alert_hostname(a));
			break;
		case NODE_TAGS:
			go_print(&b, alert_tags(a), false);
			break;
		case NODE_UUID:
			strbuf_puts(&b, alert_uuid(a));
			break;
		case NODE_FIELDS:
			go_print(&b, alert_output_fields(a), false);
			break;
		case NODE_FIELD:
			go_print(&b, json_object_get(alert_output_fields(a), nd->text), true);
			break;
		}
	}
	return sb_take(&b);
}

int template_config_parse(const char *text, void *dst, char *err, size_t errlen)
{
	struct template *t;

	if (!text || !*text) {
		*(struct template **)dst = NULL;
		return 0;
	}
	t = template_compile(text, err, errlen);
	if (!t)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	*(struct template **)dst = t;
	return 0;
}
