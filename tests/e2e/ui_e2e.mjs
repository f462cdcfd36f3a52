// SPDX-License-Identifier: Apache-2.0
// The web UI in headless Chromium (Debian's, driven by playwright-core) against a running
// lanner: run by tests/integration/test_ui_pages.py, which starts lanner with the UI on and
// passes LANNER_URL, LANNER_USER, LANNER_PASSWORD, LANNER_TOKEN, CHROMIUM and SHOTS.
// Exits non-zero with the failed assertion; prints one line per scenario passed.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const URL_ = process.env.LANNER_URL;
const USER = process.env.LANNER_USER;
const PASSWORD = process.env.LANNER_PASSWORD;
const TOKEN = process.env.LANNER_TOKEN;
const SHOTS = process.env.SHOTS;
const TIMEOUT = 30000; // per wait: generous, CI runs on a loaded 2-core machine
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

const PLAN = [
	// [priority, rule, source, count]
	['Emergency', 'Netcat remote exec', 'syscall', 1],
	['Critical', 'Shell in container', 'syscall', 3],
	['Error', 'Write below etc', 'syscall', 4],
	['Warning', 'Read sensitive file', 'syscall', 5],
	['Notice', 'Drift detected', 'syscall', 2],
	['Debug', 'Contact K8S API server', 'k8s_audit', 2],
];
const HOSTS = ['node-a', 'node-b'];
const PROCS = ['bash', 'cat', 'nc'];

function alertsOf(nowMs) {
	const out = [];
	let i = 0;
	for (const [priority, rule, source, count] of PLAN) {
		for (let k = 0; k < count; k++, i++) {
			const proc = PROCS[i % PROCS.length];
			out.push({
				time: new Date(nowMs - (i + 1) * 1000).toISOString(),
				priority,
				rule,
				source,
				hostname: HOSTS[i % 2],
				tags: i % 2 ? ['container', 'mitre_execution'] : ['host'],
				output: `${priority} ${rule} by ${proc} (n=${i}${i % 4 === 0 ? ' file=/etc/shadow' : ''})`,
				output_fields: {
					'proc.name': proc,
					'proc.pid': 1000 + i,
					'user.name': i % 3 ? 'root' : 'alice',
					'fd.name': i % 4 === 0 ? '/etc/shadow' : null,
					'container.id': `c${i}`,
				},
			});
		}
	}
	return out;
}

async function post(alert) {
	const r = await fetch(`${URL_}/`, {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify(alert),
	});
	const text = await r.text();
	assert.equal(r.status, 200, `POST / answered ${r.status}: ${text}`);
	const { uuid } = JSON.parse(text);
	assert.ok(uuid, 'POST / gave no uuid');
	alert.uuid = uuid;
	return alert;
}

async function api(path) {
	const r = await fetch(`${URL_}/api/v1/${path}`, { headers: { Authorization: AUTH } });
	assert.equal(r.status, 200, `GET /api/v1/${path}: ${r.status}`);
	return r.json();
}

async function until(what, pred, timeout = TIMEOUT) {
	const end = Date.now() + timeout;
	for (;;) {
		const v = await pred();
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

const sorted = (a) => [...a].sort();
function ok(name) {
	console.log(`ok - ${name}`);
}

async function rowUuids(page) {
	return page.$$eval('[data-testid=event-row]', (rows) => rows.map((r) => r.dataset.uuid));
}

async function waitRows(page, uuids, what) {
	const want = sorted(uuids);
	try {
		await page.waitForFunction(
			(w) => {
				const got = [...document.querySelectorAll('[data-testid=event-row]')].map((r) => r.dataset.uuid).sort();
				return got.length === w.length && got.every((u, i) => u === w[i]);
			},
			want,
			{ timeout: TIMEOUT },
		);
	} catch {
		assert.deepEqual(sorted(await rowUuids(page)), want, `${what}: rows shown`);
	}
}

async function main() {
	for (const v of ['LANNER_URL', 'LANNER_USER', 'LANNER_PASSWORD', 'LANNER_TOKEN', 'CHROMIUM', 'SHOTS'])
		assert.ok(process.env[v], `${v} is not set`);
	mkdirSync(SHOTS, { recursive: true });

	const alerts = alertsOf(Date.now());
	for (const a of alerts) await post(a);
	await until('the store to hold every alert', async () => (await api('counts?by=priority')).total === alerts.length);
	ok(`${alerts.length} alerts posted and stored`);

	// A fresh profile per browser (playwright passes it as --user-data-dir).
	const profiles = [];
	const launch = (options) => {
		const profile = mkdtempSync(join(tmpdir(), 'lanner-chromium-'));
		profiles.push(profile);
		return chromium.launchPersistentContext(profile, {
			executablePath: process.env.CHROMIUM,
			headless: true,
			args: [
				'--headless',
				'--no-sandbox',
				'--disable-gpu',
				'--disable-quic',
				'--no-first-run',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync',
			],
			...options,
		});
	};
	const contexts = [];
	const outside = [];
	const errors = [];
	try {
		const context = await launch({ viewport: { width: 1366, height: 900 } });
		contexts.push(context);
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: URL_ });
		const page = await context.newPage();
		page.setDefaultTimeout(TIMEOUT);
		page.on('request', (req) => {
			const u = req.url();
			if (!u.startsWith(`${URL_}/`) && !u.startsWith('data:')) outside.push(u);
		});
		page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
		let signedIn = false;
		page.on('console', (m) => {
			// Before sign-in the refused attempts log their 401s; after it nothing may fail.
			if (m.type() === 'error' && signedIn) errors.push(`console: ${m.text()}`);
		});

		/* wrong credentials are refused */
		await page.goto(`${URL_}/ui/`);
		await page.fill('#user', USER);
		await page.fill('#pass', `${PASSWORD}-wrong`);
		await page.click('button[type=submit]');
		await page.waitForSelector('[data-testid=login-error]:not([hidden])');
		assert.match(await page.textContent('[data-testid=login-error]'), /Wrong credentials/);
		await page.screenshot({ path: join(SHOTS, 'login-refused.png') });
		await page.click('button[data-mode=token]');
		await page.fill('#token', `${TOKEN}x`);
		await page.click('button[type=submit]');
		await page.waitForSelector('[data-testid=login-error]:not([hidden])');
		assert.match(await page.textContent('[data-testid=login-error]'), /Wrong credentials/);
		assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'refused credentials were kept');
		assert.equal(await page.locator('[data-testid=total]').count(), 0, 'dashboard shown without sign-in');
		ok('wrong user/password and wrong token are refused');

		/* the token signs in; signing out forgets it */
		await page.fill('#token', TOKEN);
		await page.click('button[type=submit]');
		await page.waitForSelector('[data-testid=total]');
		await page.click('#logout');
		await page.waitForSelector('[data-testid=login]');
		assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'credentials kept after sign-out');
		ok('token accepted; sign-out forgets it');

		/* user/password; the dashboard counts */
		await page.click('button[data-mode=password]');
		await page.fill('#user', USER);
		await page.fill('#pass', PASSWORD);
		await page.click('button[type=submit]');
		signedIn = true;
		await page.click('button[data-range="1h"]');
		await page.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent === String(n), alerts.length);
		const bars = (id) =>
			page.$$eval(`[data-testid=${id}] li`, (lis) => Object.fromEntries(lis.map((li) => [li.dataset.key, Number(li.dataset.count)])));
		const expect = (key) => {
			const m = {};
			for (const a of alerts) for (const k of [].concat(a[key])) m[k] = (m[k] || 0) + 1;
			return m;
		};
		assert.deepEqual(await bars('by-priority'), expect('priority'), 'dashboard: counts by priority');
		assert.deepEqual(await bars('top-rules'), expect('rule'), 'dashboard: top rules');
		assert.deepEqual(await bars('by-source'), expect('source'), 'dashboard: counts by source');
		assert.deepEqual(await bars('by-tag'), expect('tags'), 'dashboard: counts by tag');
		assert.deepEqual(await bars('by-hostname'), expect('hostname'), 'dashboard: counts by host');
		const segs = await page.$$eval('[data-testid=timeline] rect.seg', (r) => r.length);
		assert.ok(segs > 0, 'dashboard: the timeline has no columns');
		await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
		for (const r of ['5m', '30d']) {
			await page.click(`button[data-range="${r}"]`);
			await page.waitForSelector(`button[data-range="${r}"][aria-pressed=true]`);
			await page.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent === String(n), alerts.length);
		}
		ok('dashboard shows the right counts by priority, rule, source, tag and host (1h, 5m, 30d)');

		/* events: filters */
		await page.click('#nav a[data-page=events]');
		await waitRows(page, alerts.map((a) => a.uuid), 'events, no filter');
		const severe = ['Emergency', 'Alert', 'Critical', 'Error'];
		await page.selectOption('[data-testid=filter-min_priority]', 'Error');
		await waitRows(page, alerts.filter((a) => severe.includes(a.priority)).map((a) => a.uuid), 'priority >= Error');
		ok('priority >= Error shows exactly the matching rows');
		await page.selectOption('[data-testid=filter-min_priority]', '');
		await page.fill('[data-testid=filter-rule]', 'Read sensitive file');
		await page.click('[data-testid=apply]');
		await waitRows(page, alerts.filter((a) => a.rule === 'Read sensitive file').map((a) => a.uuid), 'rule filter');
		ok('rule = "Read sensitive file" shows exactly the matching rows');
		// Live under a filter: only the matching new alert joins the rows.
		await page.waitForSelector('[data-testid=live-state][data-state=live]');
		const base = { time: new Date().toISOString(), source: 'syscall', hostname: 'node-a', tags: ['host'] };
		const other = await post({ ...base, priority: 'Critical', rule: 'Write below etc', output: 'Critical Write below etc (live, filtered out)', output_fields: { 'proc.name': 'vi' } });
		const match = await post({ ...base, priority: 'Warning', rule: 'Read sensitive file', output: 'Warning Read sensitive file (live, matching)', output_fields: { 'proc.name': 'less' } });
		alerts.push(other, match);
		await waitRows(page, alerts.filter((a) => a.rule === 'Read sensitive file').map((a) => a.uuid), 'rule filter, live');
		await page.waitForTimeout(500); // the other alert was sent first: it would be here by now
		assert.equal(await page.locator(`[data-uuid="${other.uuid}"]`).count(), 0, 'live: a filtered-out alert was shown');
		ok('live under a rule filter: only the matching new alert appears');
		await page.fill('[data-testid=filter-rule]', '');
		await page.fill('[data-testid=filter-q]', 'shadow');
		await page.selectOption('[data-testid=filter-min_priority]', 'Warning');
		await waitRows(
			page,
			alerts.filter((a) => a.output.includes('shadow') && !['Notice', 'Debug'].includes(a.priority)).map((a) => a.uuid),
			'search "shadow" and priority >= Warning',
		);
		ok('free-text search combined with a priority shows exactly the matching rows');

		/* live: a new alert appears without reload */
		await page.click('a.button[href="#/events"]');
		await waitRows(page, alerts.map((a) => a.uuid), 'events after Clear');
		await page.waitForSelector('[data-testid=live-state][data-state=live]');
		await page.evaluate(() => {
			window.__noReload = true;
		});
		const fresh = await post({
			time: new Date().toISOString(),
			priority: 'Alert',
			rule: 'Live arrival',
			source: 'syscall',
			hostname: 'node-live',
			tags: ['live', 'container'],
			output: 'Alert Live arrival: a shell spawned by a web server (proc=sh)',
			output_fields: {
				'proc.name': 'sh',
				'proc.cmdline': 'sh -c "id; uname -a"',
				'proc.pid': 4242,
				'proc.pname': 'nginx',
				'user.uid': 33,
				'k8s.ns.name': 'web',
				'evt.arg.flags': null,
			},
		});
		await page.waitForSelector(`[data-testid=event-row][data-uuid="${fresh.uuid}"]`);
		assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
		const first = await page.$eval('[data-testid=event-row]', (r) => r.dataset.uuid);
		assert.equal(first, fresh.uuid, 'the live alert is not on top');
		ok('a new alert appears live, on top, without reload');

		/* detail: every output field, the raw JSON, copy */
		await page.click(`[data-testid=event-row][data-uuid="${fresh.uuid}"]`);
		await page.waitForSelector('[data-testid=field-row]');
		const shown = await page.$$eval('[data-testid=field-row]', (rows) =>
			Object.fromEntries(rows.map((r) => [r.dataset.field, r.querySelector('td').textContent])),
		);
		const want = Object.fromEntries(Object.entries(fresh.output_fields).map(([k, v]) => [k, v === null ? 'null' : String(v)]));
		assert.deepEqual(shown, want, 'detail: output fields');
		assert.equal(await page.textContent('[data-testid=detail-output]'), fresh.output);
		const raw = JSON.parse(await page.textContent('[data-testid=raw]'));
		for (const k of ['priority', 'rule', 'source', 'hostname', 'output', 'output_fields'])
			assert.deepEqual(raw[k], fresh[k], `detail: raw JSON ${k}`);
		assert.deepEqual(sorted(raw.tags), sorted(fresh.tags), 'detail: raw JSON tags');
		await page.screenshot({ path: join(SHOTS, 'event-detail.png') });
		await page.click('[data-testid=copy-json]');
		await page.waitForFunction(() => document.querySelector('[data-testid=copied]')?.textContent === 'Copied.');
		const clip = await page.evaluate(() => navigator.clipboard.readText());
		assert.deepEqual(JSON.parse(clip), raw, 'copy as JSON: clipboard');
		await page.click('[data-testid=close]');
		await page.waitForSelector('[data-testid=detail]', { state: 'detached' });
		ok('the detail view shows every output field and the raw JSON; copy as JSON');
		await page.screenshot({ path: join(SHOTS, 'events.png'), fullPage: true });

		/* outputs */
		await page.click('#nav a[data-page=outputs]');
		await page.waitForSelector('[data-testid=output-row][data-name=ui]');
		const store = await page.textContent('[data-testid=store] .big');
		assert.equal(store, String(alerts.length + 1), 'outputs: store alerts');
		await page.waitForSelector('[data-testid=spool]');
		await page.screenshot({ path: join(SHOTS, 'outputs.png'), fullPage: true });
		ok('outputs page: sinks and store');

		/* a phone */
		const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
		contexts.push(phone);
		const p2 = await phone.newPage();
		p2.setDefaultTimeout(TIMEOUT);
		p2.on('request', (req) => {
			const u = req.url();
			if (!u.startsWith(`${URL_}/`) && !u.startsWith('data:')) outside.push(u);
		});
		p2.on('pageerror', (e) => errors.push(`phone page error: ${e.message}`));
		await p2.goto(`${URL_}/ui/`);
		await p2.fill('#user', USER);
		await p2.fill('#pass', PASSWORD);
		await p2.click('button[type=submit]');
		await p2.waitForSelector('[data-testid=total]');
		const fits = () => p2.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
		assert.ok(await fits(), 'phone: the dashboard is wider than the screen');
		await p2.screenshot({ path: join(SHOTS, 'dashboard-phone.png'), fullPage: true });
		await p2.click('#nav a[data-page=events]');
		await p2.waitForSelector(`[data-testid=event-row][data-uuid="${fresh.uuid}"]`);
		assert.ok(await fits(), 'phone: the events page is wider than the screen');
		await p2.screenshot({ path: join(SHOTS, 'events-phone.png') });
		ok('phone layout: no horizontal overflow');

		assert.deepEqual(outside, [], 'requests left the machine');
		assert.deepEqual(errors, [], 'errors in the page');
		ok('no request left lanner; no page or console error');
	} finally {
		for (const c of contexts) await c.close();
		for (const p of profiles) rmSync(p, { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(`not ok - ${e.stack || e}`);
	process.exit(1);
});
