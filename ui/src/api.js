// SPDX-License-Identifier: Apache-2.0
// The /api/v1/ client (docs/ui-api.md): credentials kept in sessionStorage, sent on every
// request; the live stream read with fetch streaming so the Authorization header can be set.
// Requests are made with credentials: 'omit': a 401 carrying WWW-Authenticate: Basic would
// otherwise open the browser's own password prompt over the page (Fetch standard: the prompt
// is only for requests that include credentials).

const KEY = 'lanner.auth';
const API = new URL('../api/v1/', document.baseURI).pathname;

export class AuthError extends Error {}

export function credentials() {
	return sessionStorage.getItem(KEY);
}

export function signOut() {
	sessionStorage.removeItem(KEY);
}

export function basic(user, password) {
	const bytes = new TextEncoder().encode(`${user}:${password}`);
	let bin = '';
	for (const b of bytes) bin += String.fromCharCode(b);
	return `Basic ${btoa(bin)}`;
}

export function bearer(token) {
	return `Bearer ${token}`;
}

// Checks credentials against the API and keeps them only when they are accepted.
export async function signIn(authorization) {
	const r = await fetch(API + 'outputs', { headers: { Authorization: authorization }, credentials: 'omit' });
	if (r.status === 401) throw new AuthError('Wrong credentials');
	if (!r.ok) throw new Error(await errorText(r));
	sessionStorage.setItem(KEY, authorization);
}

async function errorText(r) {
	try {
		const j = await r.json();
		return `${r.status}: ${j.error}${j.parameter ? ` (parameter ${j.parameter})` : ''}`;
	} catch {
		return `HTTP ${r.status}`;
	}
}

export function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v === undefined || v === null || v === '') continue;
		if (Array.isArray(v)) v.forEach((x) => x !== '' && q.append(k, x));
		else q.append(k, v);
	}
	const s = q.toString();
	return s ? `?${s}` : '';
}

export async function get(path, params = {}, signal) {
	const auth = credentials();
	if (!auth) throw new AuthError('Not signed in');
	const r = await fetch(API + path + query(params), { headers: { Authorization: auth }, credentials: 'omit', signal });
	if (r.status === 401) {
		signOut();
		throw new AuthError('Credentials no longer accepted');
	}
	if (!r.ok) throw new Error(await errorText(r));
	return r.json();
}

// Follows /api/v1/stream with params; onAlert(event) per alert, onState('live'|'reconnecting').
// Reconnects after a lost connection (1 s, doubling to 30 s). Returns a function that stops it.
export function follow(params, onAlert, onState) {
	const ctl = new AbortController();
	let delay = 1000;
	let timer = null;

	async function run() {
		const auth = credentials();
		if (!auth) return;
		try {
			const r = await fetch(API + 'stream' + query(params), {
				headers: { Authorization: auth, Accept: 'text/event-stream' },
				signal: ctl.signal,
				credentials: 'omit',
				cache: 'no-store',
			});
			if (r.status === 401) {
				signOut();
				onState('unauthorized');
				return;
			}
			if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
			onState('live');
			delay = 1000;
			const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
			let buf = '';
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				buf += value.replace(/\r\n?/g, '\n');
				let end;
				while ((end = buf.indexOf('\n\n')) >= 0) {
					dispatch(buf.slice(0, end));
					buf = buf.slice(end + 2);
				}
			}
		} catch (e) {
			if (ctl.signal.aborted) return;
		}
		if (ctl.signal.aborted) return;
		onState('reconnecting');
		timer = setTimeout(run, delay);
		delay = Math.min(delay * 2, 30000);
	}

	function dispatch(block) {
		let type = 'message';
		const data = [];
		for (const line of block.split('\n')) {
			if (line === '' || line.startsWith(':')) continue;
			const i = line.indexOf(':');
			const field = i < 0 ? line : line.slice(0, i);
			let value = i < 0 ? '' : line.slice(i + 1);
			if (value.startsWith(' ')) value = value.slice(1);
			if (field === 'event') type = value;
			else if (field === 'data') data.push(value);
		}
		if (type !== 'alert' || !data.length) return;
		try {
			onAlert(JSON.parse(data.join('\n')));
		} catch {
			/* a malformed event is skipped; the next one is independent */
		}
	}

	run();
	return () => {
		ctl.abort();
		clearTimeout(timer);
	};
}
