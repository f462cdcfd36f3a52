// SPDX-License-Identifier: Apache-2.0
// DOM helpers (text is always set as text: alert contents never become markup), priorities,
// formatting.

export const PRIORITIES = [
	'Emergency',
	'Alert',
	'Critical',
	'Error',
	'Warning',
	'Notice',
	'Informational',
	'Debug',
];

export function prioClass(p) {
	const i = PRIORITIES.findIndex((x) => x.toLowerCase() === String(p).toLowerCase());
	return i < 0 ? 'p-unknown' : `p-${PRIORITIES[i].toLowerCase()}`;
}

// h('div.card#x', {attrs}, children...): strings become text nodes.
export function h(spec, attrs, ...children) {
	const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
	const el = document.createElement(m[1] || 'div');
	for (const part of m[2].match(/[.#][\w-]+/g) || []) {
		if (part[0] === '.') el.classList.add(part.slice(1));
		else el.id = part.slice(1);
	}
	if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
		children.unshift(attrs);
		attrs = null;
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k === 'value') el.value = v;
		else if (k === 'style') el.style.cssText = v;
		else el.setAttribute(k, v === true ? '' : v);
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else el.append(c instanceof Node ? c : String(c));
	}
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
	const el = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
	for (const c of children) if (c) el.append(c instanceof Node ? c : String(c));
	return el;
}

export function fmtNumber(n) {
	return Number(n || 0).toLocaleString('en-US');
}

export function fmtBytes(n) {
	if (n === null || n === undefined) return '–';
	const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	let v = Number(n);
	while (v >= 1024 && i < u.length - 1) {
		v /= 1024;
		i++;
	}
	return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${u[i]}`;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Local time, to the millisecond: 2026-11-28 09:00:00.123
export function fmtTime(t) {
	if (t === null || t === undefined) return '–';
	const d = new Date(t);
	if (Number.isNaN(d.getTime())) return String(t);
	return (
		`${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
		`${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
	);
}

export function fmtShortTime(ms, spanMs) {
	const d = new Date(ms);
	if (spanMs > 2 * 86400e3) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
	if (spanMs > 3600e3) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
	return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtAgo(t) {
	if (!t) return '';
	const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
	if (s < 60) return `${Math.max(s, 0)} s ago`;
	if (s < 3600) return `${Math.round(s / 60)} min ago`;
	if (s < 86400) return `${Math.round(s / 3600)} h ago`;
	return `${Math.round(s / 86400)} d ago`;
}

// Copies text; navigator.clipboard needs a secure context, the textarea fallback does not.
export async function copyText(text) {
	if (navigator.clipboard && window.isSecureContext) {
		try {
			await navigator.clipboard.writeText(text);
			return true;
		} catch {
			/* fall through */
		}
	}
	const ta = h('textarea', { readonly: true, style: 'position:fixed;top:-1000px' }, text);
	document.body.append(ta);
	ta.select();
	let ok = false;
	try {
		ok = document.execCommand('copy');
	} catch {
		ok = false;
	}
	ta.remove();
	return ok;
}
