// SPDX-License-Identifier: Apache-2.0
// lanner's web UI: dashboard, events, outputs and the sign-in form; hash routes
// (#/, #/events?..., #/outputs) so the pages are one static bundle served under /ui/.
import { AuthError, basic, bearer, credentials, follow, get, signIn, signOut } from './api.js';
import { barList, timeline } from './charts.js';
import {
	PRIORITIES,
	copyText,
	fmtAgo,
	fmtBytes,
	fmtNumber,
	fmtTime,
	h,
	prioClass,
} from './util.js';

const app = document.getElementById('app');
const RANGES = [
	['5m', 5 * 60e3, '10s'],
	['15m', 15 * 60e3, '30s'],
	['1h', 3600e3, '1m'],
	['6h', 6 * 3600e3, '10m'],
	['24h', 86400e3, '1h'],
	['7d', 7 * 86400e3, '6h'],
	['30d', 30 * 86400e3, '1d'],
];
const rangeOf = (name) => RANGES.find((r) => r[0] === name);

let cleanup = [];
function onLeave(fn) {
	cleanup.push(fn);
}

function parseHash() {
	const raw = location.hash.replace(/^#/, '') || '/';
	const i = raw.indexOf('?');
	const path = i < 0 ? raw : raw.slice(0, i);
	const params = new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
	return { path, params };
}

function hashFor(path, params) {
	const q = params.toString();
	return `#${path}${q ? `?${q}` : ''}`;
}

function route() {
	for (const fn of cleanup) fn();
	cleanup = [];
	const { path, params } = parseHash();
	const signedIn = !!credentials();
	document.getElementById('logout').hidden = !signedIn;
	document.getElementById('nav').hidden = !signedIn;
	app.replaceChildren();
	if (!signedIn) return loginPage(path, params);
	const page = path.startsWith('/events') ? 'events' : path.startsWith('/outputs') ? 'outputs' : 'dashboard';
	for (const a of document.querySelectorAll('#nav a'))
		a.classList.toggle('active', a.dataset.page === page);
	document.title = `lanner · ${page[0].toUpperCase()}${page.slice(1)}`;
	if (page === 'events') return eventsPage(params);
	if (page === 'outputs') return outputsPage();
	return dashboardPage(params);
}

// An API failure: back to sign-in when credentials are refused, else a message in place.
function failed(where, e) {
	if (e instanceof AuthError) {
		route();
		return;
	}
	if (e.name === 'AbortError') return;
	where.replaceChildren(h('p.error', { role: 'alert', 'data-testid': 'error' }, e.message));
}

/* ---- sign in ---- */

function loginPage() {
	let mode = 'password';
	const err = h('p.error', { role: 'alert', 'data-testid': 'login-error', hidden: true });
	const user = h('input#user', { name: 'username', autocomplete: 'username', required: true });
	const pass = h('input#pass', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
	const token = h('input#token', { name: 'token', type: 'password', autocomplete: 'off' });
	const pwFields = h('div.login-fields', h('label', { for: 'user' }, 'User'), user, h('label', { for: 'pass' }, 'Password'), pass);
	const tokFields = h('div.login-fields', { hidden: true }, h('label', { for: 'token' }, 'Token'), token);
	const tabs = h(
		'div.tabs',
		{ role: 'tablist' },
		['password', 'token'].map((m) =>
			h(
				'button.tab',
				{
					type: 'button',
					role: 'tab',
					'data-mode': m,
					'aria-selected': m === mode ? 'true' : 'false',
					onclick: () => {
						mode = m;
						for (const b of tabs.children) b.setAttribute('aria-selected', b.dataset.mode === m ? 'true' : 'false');
						pwFields.hidden = m !== 'password';
						tokFields.hidden = m !== 'token';
						user.required = pass.required = m === 'password';
						token.required = m === 'token';
					},
				},
				m === 'password' ? 'User and password' : 'Token',
			),
		),
	);
	const submit = h('button.primary', { type: 'submit' }, 'Sign in');
	const form = h(
		'form.login',
		{
			'data-testid': 'login',
			onsubmit: async (ev) => {
				ev.preventDefault();
				err.hidden = true;
				submit.disabled = true;
				try {
					await signIn(mode === 'token' ? bearer(token.value) : basic(user.value, pass.value));
					route();
				} catch (e) {
					err.textContent = e instanceof AuthError ? 'Wrong credentials: access refused.' : `Cannot sign in: ${e.message}`;
					err.hidden = false;
				} finally {
					submit.disabled = false;
				}
			},
		},
		h('h1', 'Sign in to lanner'),
		tabs,
		pwFields,
		tokFields,
		err,
		submit,
		h('p.hint', 'Credentials are kept in this tab only (sessionStorage).'),
	);
	app.append(h('section.login-wrap', form));
	user.focus();
}

/* ---- dashboard ---- */

function rangeSelector(current, onPick) {
	return h(
		'div.ranges',
		{ role: 'group', 'aria-label': 'Time range', 'data-testid': 'ranges' },
		RANGES.map(([name]) =>
			h(
				'button.range',
				{ type: 'button', 'aria-pressed': name === current ? 'true' : 'false', 'data-range': name, onclick: () => onPick(name) },
				name,
			),
		),
	);
}

function eventsLink(params) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
	return hashFor('/events', p);
}

function dashboardPage(params) {
	const range = rangeOf(params.get('range')) ? params.get('range') : '24h';
	const [, spanMs, bucket] = rangeOf(range);
	const body = h('div.grid', h('p.muted', 'Loading…'));
	const updated = h('span.muted');
	app.append(
		h(
			'section.page',
			h(
				'div.toolbar',
				h('h1', 'Dashboard'),
				rangeSelector(range, (r) => {
					params.set('range', r);
					location.hash = hashFor('/', params);
				}),
				updated,
			),
			body,
		),
	);
	let ctl = null;
	async function load() {
		ctl?.abort();
		ctl = new AbortController();
		const until = Date.now();
		const since = until - spanMs;
		const base = { since, until };
		try {
			const [prio, source, tag, rule, host] = await Promise.all([
				get('counts', { ...base, by: 'priority', bucket }, ctl.signal),
				get('counts', { ...base, by: 'source' }, ctl.signal),
				get('counts', { ...base, by: 'tag', top: 15 }, ctl.signal),
				get('counts', { ...base, by: 'rule', top: 10 }, ctl.signal),
				get('counts', { ...base, by: 'hostname', top: 10 }, ctl.signal),
			]);
			const prioGroups = [...prio.groups].sort((a, b) => PRIORITIES.indexOf(a.key) - PRIORITIES.indexOf(b.key));
			const link = (k, v) => eventsLink({ [k]: v, range });
			body.replaceChildren(
				h(
					'div.card.total',
					h('h2', 'Alerts'),
					h('p.big', { 'data-testid': 'total' }, fmtNumber(prio.total)),
					h('p.muted', `in the last ${range}`),
					h('a', { href: eventsLink({ range }) }, 'See them →'),
				),
				h('div.card.wide', h('h2', 'Timeline by priority'), timeline(prio), legend(prioGroups)),
				h('div.card', h('h2', 'By priority'), barList(prioGroups, { testid: 'by-priority', cls: prioClass, link: (k) => link('priority', k) })),
				h('div.card', h('h2', 'Top rules'), barList(rule.groups, { testid: 'top-rules', link: (k) => link('rule', k) })),
				h('div.card', h('h2', 'By source'), barList(source.groups, { testid: 'by-source', link: (k) => link('source', k) })),
				h('div.card', h('h2', 'By tag'), barList(tag.groups, { testid: 'by-tag', link: (k) => link('tag', k), empty: 'No tagged alerts in this range' })),
				h('div.card', h('h2', 'Top hosts'), barList(host.groups, { testid: 'by-hostname', link: (k) => link('hostname', k) })),
			);
			updated.textContent = `updated ${fmtTime(until).slice(11, 19)}`;
		} catch (e) {
			failed(body, e);
		}
	}
	load();
	const timer = setInterval(() => document.visibilityState === 'visible' && load(), 15000);
	onLeave(() => {
		clearInterval(timer);
		ctl?.abort();
	});
}

function legend(groups) {
	return h(
		'ul.legend',
		groups.map((g) => h('li', h(`span.swatch.${prioClass(g.key)}`), `${g.key} ${fmtNumber(g.count)}`)),
	);
}

/* ---- events ---- */


// The API's parameters for the filters in the page's URL (field=name=value becomes field.name).
function apiFilters(params, withTime) {
	const out = {};
	for (const k of ['q', 'min_priority', 'priority', 'rule', 'source', 'tag', 'hostname']) {
		const v = params.getAll(k).filter(Boolean);
		if (v.length) out[k] = v;
	}
	for (const f of params.getAll('field')) {
		const i = f.indexOf('=');
		if (i > 0) out[`field.${f.slice(0, i).trim()}`] = f.slice(i + 1);
	}
	const r = rangeOf(params.get('range'));
	if (withTime && r) out.since = Date.now() - r[1];
	return out;
}

function select(name, label, options, value, more) {
	return h(
		`label.f${more ? '.more' : ''}`,
		h('span', label),
		h(
			'select',
			{ name, 'data-testid': `filter-${name}` },
			options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
		),
	);
}

function input(name, label, value, attrs = {}) {
	return h('label.f.more', h('span', label), h('input', { name, value: value || '', 'data-testid': `filter-${name}`, ...attrs }));
}

function eventsPage(params) {
	const prioOpts = [['', 'any'], ...PRIORITIES.map((p) => [p, p])];
	const rules = h('datalist#rule-list');
	const form = h(
		'form.filters',
		{
			'data-testid': 'filters',
			onsubmit: (ev) => {
				ev.preventDefault();
				const p = new URLSearchParams();
				for (const [k, v] of new FormData(form)) if (String(v).trim()) p.append(k, String(v).trim());
				location.hash = hashFor('/events', p);
			},
			onchange: (ev) => {
				if (ev.target.tagName === 'SELECT') form.requestSubmit();
			},
		},
		h('label.f.search', h('span', 'Search'), h('input', { name: 'q', type: 'search', value: params.get('q') || '', placeholder: 'text in the output', 'data-testid': 'filter-q' })),
		select('min_priority', 'Priority ≥', prioOpts, params.get('min_priority') || ''),
		select('priority', 'Priority =', prioOpts, params.get('priority') || '', true),
		input('rule', 'Rule', params.get('rule'), { list: 'rule-list' }),
		input('source', 'Source', params.get('source')),
		input('tag', 'Tag', params.get('tag')),
		input('hostname', 'Host', params.get('hostname')),
		input('field', 'Field', params.get('field'), { placeholder: 'proc.name=bash' }),
		select('range', 'Time', [['', 'all'], ...RANGES.map(([n]) => [n, `last ${n}`])], params.get('range') || '', true),
		h(
			'div.f.buttons',
			h(
				'button.more-toggle',
				{ type: 'button', onclick: () => form.classList.toggle('open') },
				'More filters',
			),
			h('button.primary', { type: 'submit', 'data-testid': 'apply' }, 'Apply'),
			h('a.button', { href: '#/events' }, 'Clear'),
		),
		rules,
	);
	// Phones show search and minimum priority; the other filters open on demand (or when set).
	if (['priority', 'rule', 'source', 'tag', 'hostname', 'field', 'range'].some((k) => params.get(k)))
		form.classList.add('open');
	const live = h('input', { type: 'checkbox', checked: true, 'data-testid': 'live' });
	const liveState = h('span.live-state', { 'data-testid': 'live-state' }, 'connecting');
	const status = h('span.muted', { 'data-testid': 'status' });
	const tbody = h('tbody', { 'data-testid': 'events' });
	const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, 'Load older');
	const box = h('div');
	const detail = h('div.detail-wrap', { hidden: true });
	app.append(
		h(
			'section.page',
			h('div.toolbar', h('h1', 'Events'), h('label.live', live, ' Live', liveState), status),
			form,
			box,
			h(
				'div.table-wrap',
				h(
					'table.events',
					h('thead', h('tr', ['Time', 'Priority', 'Rule', 'Source', 'Host', 'Output'].map((c) => h('th', c)))),
					tbody,
				),
			),
			h('p.center', more),
			detail,
		),
	);

	get('rules').then(
		(r) => rules.replaceChildren(...r.rules.map((x) => h('option', { value: x.name }))),
		() => {},
	);

	const filters = apiFilters(params, true);
	let cursor = null;
	let shown = 0;
	let ctl = new AbortController();
	const seen = new Set();

	function row(ev, fresh) {
		const tr = h(
			`tr.${fresh ? 'fresh' : 'old'}`,
			{ 'data-testid': 'event-row', 'data-uuid': ev.uuid, 'data-priority': ev.priority, 'data-rule': ev.rule, tabindex: 0, onclick: () => openDetail(ev.uuid), onkeydown: (k) => k.key === 'Enter' && openDetail(ev.uuid) },
			h('td.time', { 'data-label': 'Time', title: ev.time }, fmtTime(ev.time)),
			h('td', { 'data-label': 'Priority' }, h(`span.badge.${prioClass(ev.priority)}`, ev.priority)),
			h('td.rule', { 'data-label': 'Rule' }, ev.rule),
			h('td', { 'data-label': 'Source' }, ev.source),
			h('td', { 'data-label': 'Host' }, ev.hostname || '–'),
			h('td.output', { 'data-label': 'Output' }, ev.output),
		);
		return tr;
	}

	function setStatus() {
		status.textContent = `${fmtNumber(shown)} shown${cursor ? ', more below' : ''}`;
	}

	async function page() {
		more.disabled = true;
		try {
			const r = await get('events', { ...filters, limit: 100, cursor }, ctl.signal);
			for (const ev of r.events) {
				if (seen.has(ev.uuid)) continue;
				seen.add(ev.uuid);
				tbody.append(row(ev, false));
				shown++;
			}
			cursor = r.next;
			more.hidden = !cursor;
			if (!shown) tbody.replaceChildren(h('tr.none', h('td', { colspan: 6 }, 'No alerts match these filters.')));
			box.replaceChildren();
			setStatus();
		} catch (e) {
			failed(box, e);
		} finally {
			more.disabled = false;
		}
	}
	more.addEventListener('click', page);

	// Live: the stream takes the same filters but no time range (new alerts are in any range).
	let stop = null;
	function startLive() {
		stop = follow(
			apiFilters(params, false),
			(ev) => {
				if (seen.has(ev.uuid)) return;
				seen.add(ev.uuid);
				tbody.querySelector('tr.none')?.remove();
				tbody.prepend(row(ev, true));
				shown++;
				// Bounded page: the oldest rows go once 2,000 are shown (paging restarts on reload).
				while (tbody.children.length > 2000) {
					tbody.lastElementChild.remove();
					shown--;
					cursor = null;
					more.hidden = true;
				}
				setStatus();
			},
			(state) => {
				if (state === 'unauthorized') return route();
				liveState.textContent = state;
				liveState.dataset.state = state;
			},
		);
	}
	live.addEventListener('change', () => {
		if (live.checked) startLive();
		else {
			stop?.();
			stop = null;
			liveState.textContent = 'paused';
			liveState.dataset.state = 'paused';
		}
	});
	// The first page first, then the stream; an alert in both is shown once (by uuid).
	page().then(() => live.checked && !stop && startLive());

	async function openDetail(uuid) {
		detail.hidden = false;
		const panel = h('div.detail', { role: 'dialog', 'aria-modal': 'true', 'data-testid': 'detail' }, h('p.muted', 'Loading…'));
		detail.replaceChildren(panel);
		try {
			const ev = await get(`events/${encodeURIComponent(uuid)}`, {}, ctl.signal);
			panel.replaceChildren(...detailView(ev, closeDetail));
			panel.querySelector('button.close').focus();
		} catch (e) {
			failed(panel, e);
			panel.prepend(h('button.close', { type: 'button', onclick: closeDetail }, 'Close'));
		}
	}
	function closeDetail() {
		detail.hidden = true;
		detail.replaceChildren();
	}
	detail.addEventListener('click', (e) => e.target === detail && closeDetail());
	const onKey = (e) => e.key === 'Escape' && closeDetail();
	document.addEventListener('keydown', onKey);
	onLeave(() => {
		ctl.abort();
		stop?.();
		document.removeEventListener('keydown', onKey);
	});
}

function detailView(ev, close) {
	let pretty = ev.raw;
	try {
		pretty = JSON.stringify(JSON.parse(ev.raw), null, 2);
	} catch {
		/* shown as delivered */
	}
	const copied = h('span.muted', { 'data-testid': 'copied', 'aria-live': 'polite' });
	const kv = (k, v, testid, attrs = {}) => h('tr', { 'data-testid': testid, ...attrs }, h('th', k), h('td', v));
	const fields = Object.entries(ev.output_fields || {}).sort(([a], [b]) => a.localeCompare(b));
	return [
		h(
			'div.detail-head',
			h(`span.badge.${prioClass(ev.priority)}`, ev.priority),
			h('h2', ev.rule),
			h('button.close', { type: 'button', onclick: close, 'aria-label': 'Close', 'data-testid': 'close' }, '✕'),
		),
		h(
			'div.actions',
			h(
				'button',
				{
					type: 'button',
					'data-testid': 'copy-json',
					onclick: async () => {
						copied.textContent = (await copyText(pretty)) ? 'Copied.' : 'Copy failed: select the JSON below.';
					},
				},
				'Copy as JSON',
			),
			copied,
		),
		h('p.detail-output', { 'data-testid': 'detail-output' }, ev.output),
		h(
			'table.kv',
			h(
				'tbody',
				kv('Time', ev.time, 'meta-row'),
				kv('Priority', ev.priority, 'meta-row'),
				kv('Rule', ev.rule, 'meta-row'),
				kv('Source', ev.source, 'meta-row'),
				kv('Host', ev.hostname || '–', 'meta-row'),
				kv('Tags', (ev.tags || []).join(', ') || '–', 'meta-row'),
				kv('UUID', ev.uuid, 'meta-row'),
			),
		),
		h('h3', `Output fields (${fields.length})`),
		h(
			'table.kv.fields',
			h(
				'tbody',
				fields.map(([k, v]) =>
					kv(k, v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v), 'field-row', { 'data-field': k }),
				),
			),
		),
		h('h3', 'Raw JSON'),
		h('pre.raw', { 'data-testid': 'raw' }, pretty),
	];
}

/* ---- outputs ---- */

function fmtDuration(ms) {
	if (!ms) return '–';
	if (ms % 86400e3 === 0) return `${ms / 86400e3} d`;
	if (ms % 3600e3 === 0) return `${ms / 3600e3} h`;
	return `${Math.round(ms / 60e3)} min`;
}

function health(o) {
	if (o.backoff) return ['retrying', 'warn'];
	const recent = o.last_error_time && Date.now() - new Date(o.last_error_time).getTime() < 5 * 60e3;
	if (recent) return ['errors', 'bad'];
	if (o.dropped > 0) return ['dropped', 'warn'];
	return ['ok', 'good'];
}

function meter(used, max) {
	const pct = max ? Math.min(100, (100 * used) / max) : 0;
	return h('span.meter', { title: `${pct.toFixed(1)}%` }, h('span', { style: `width:${pct.toFixed(2)}%` }));
}

function outputsPage() {
	const body = h('div', h('p.muted', 'Loading…'));
	const updated = h('span.muted');
	app.append(h('section.page', h('div.toolbar', h('h1', 'Outputs'), updated), body));
	let ctl = null;
	let rulesBox = null;
	async function load() {
		ctl?.abort();
		ctl = new AbortController();
		try {
			const r = await get('outputs', {}, ctl.signal);
			const sp = r.spool || {};
			const st = r.store || {};
			const cells = (o) => {
				const [word, cls] = health(o);
				return h(
					'tr',
					{ 'data-testid': 'output-row', 'data-name': o.name },
					h('td.name', { 'data-label': 'Output' }, o.name),
					h('td', { 'data-label': 'Health' }, h(`span.health.${cls}`, word)),
					h('td.num', { 'data-label': 'Queue' }, fmtNumber(o.queue)),
					h('td.num', { 'data-label': 'In flight' }, fmtNumber(o.inflight)),
					h('td.num', { 'data-label': 'Delivered' }, fmtNumber(o.delivered)),
					h('td.num', { 'data-label': 'Failed' }, fmtNumber(o.failed)),
					h('td.num', { 'data-label': 'Dropped' }, fmtNumber(o.dropped)),
					h('td.num', { 'data-label': 'Retries' }, fmtNumber(o.retries)),
					h('td', { 'data-label': 'Last error' }, o.last_error ? h('span', { title: fmtTime(o.last_error_time) }, `${o.last_error} (${fmtAgo(o.last_error_time)})`) : '–'),
				);
			};
			body.replaceChildren(
				h(
					'div.table-wrap',
					h(
						'table.outputs',
						{ 'data-testid': 'outputs' },
						h('thead', h('tr', ['Output', 'Health', 'Queue', 'In flight', 'Delivered', 'Failed', 'Dropped', 'Retries', 'Last error'].map((c) => h('th', c)))),
						h('tbody', r.outputs.map(cells)),
					),
				),
				h(
					'div.grid',
					h(
						'div.card',
						{ 'data-testid': 'spool' },
						h('h2', 'Spool'),
						h('p.big', fmtNumber(sp.pending)),
						h('p.muted', `alerts waiting for delivery (${sp.mode || '–'} spool)`),
						h('p', `${fmtBytes(sp.bytes)} of ${fmtBytes(sp.max_bytes)} `, meter(sp.bytes, sp.max_bytes)),
					),
					h(
						'div.card',
						{ 'data-testid': 'store' },
						h('h2', 'Event store'),
						h('p.big', fmtNumber(st.alerts)),
						h('p.muted', `alerts kept, oldest ${st.oldest ? `${fmtTime(st.oldest)} (${fmtAgo(st.oldest)})` : '–'}`),
						h('p', `${fmtBytes(st.bytes)} of ${fmtBytes(st.max_bytes)} `, meter(st.bytes, st.max_bytes)),
						h('p.muted', `kept ${fmtDuration(st.max_age_ms)} · queued ${fmtNumber(st.queued)} · write errors ${fmtNumber(st.errors)} · full-text index ${st.full_text_index ? 'on' : 'off'}`),
					),
				),
			);
			if (!rulesBox) rulesBox = h('div');
			body.append(rulesBox);
			updated.textContent = `updated ${fmtTime(Date.now()).slice(11, 19)}`;
		} catch (e) {
			failed(body, e);
		}
	}
	async function loadRules() {
		try {
			const r = await get('rules');
			rulesBox.replaceChildren(
				h(
					'details.card.rules',
					h('summary', `Loaded rules (${r.rules.length})`),
					r.rules.length
						? h(
								'div.table-wrap',
								h(
									'table',
									h('thead', h('tr', ['Rule', 'Priority', 'Source', 'Enabled', 'Tags'].map((c) => h('th', c)))),
									h(
										'tbody',
										r.rules.map((x) =>
											h(
												'tr',
												h('td', { 'data-label': 'Rule', title: x.desc || '' }, x.name),
												h('td', { 'data-label': 'Priority' }, h(`span.badge.${prioClass(x.priority)}`, x.priority)),
												h('td', { 'data-label': 'Source' }, x.source),
												h('td', { 'data-label': 'Enabled' }, x.enabled ? 'yes' : 'no'),
												h('td', { 'data-label': 'Tags' }, (x.tags || []).join(', ')),
											),
										),
									),
								),
							)
						: h('p.muted', 'No rules loaded (the detector is off).'),
				),
			);
		} catch (e) {
			failed(rulesBox, e);
		}
	}
	load().then(loadRules);
	const timer = setInterval(() => document.visibilityState === 'visible' && load(), 5000);
	onLeave(() => {
		clearInterval(timer);
		ctl?.abort();
	});
}

document.getElementById('logout').addEventListener('click', () => {
	signOut();
	location.hash = '#/';
	route();
});
window.addEventListener('hashchange', route);
route();
