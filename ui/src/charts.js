// SPDX-License-Identifier: Apache-2.0
// Charts drawn here: horizontal bars in HTML, the timeline as SVG stacked columns.
import { PRIORITIES, fmtNumber, fmtShortTime, fmtTime, h, prioClass, s } from './util.js';

// groups: [{key, count}]; link(key) gives an href; cls(key) a class for the bar.
export function barList(groups, { link, cls, testid, empty = 'No alerts in this range' } = {}) {
	if (!groups.length) return h('p.empty', empty);
	const max = Math.max(...groups.map((g) => g.count), 1);
	return h(
		'ul.bars',
		{ 'data-testid': testid },
		groups.map((g) =>
			h(
				'li',
				{ 'data-key': g.key, 'data-count': g.count },
				h('a.bar-label', { href: link ? link(g.key) : null, title: g.key }, g.key),
				h(
					'span.bar-track',
					h(`span.bar-fill.${cls ? cls(g.key) : 'p-none'}`, {
						style: `width:${Math.max((100 * g.count) / max, 0.5).toFixed(2)}%`,
					}),
				),
				h('span.bar-count', fmtNumber(g.count)),
			),
		),
	);
}

// Stacked columns per bucket, one colour per priority, from /counts?by=priority&bucket=.
export function timeline(counts) {
	const W = 800;
	const H = 220;
	const left = 44;
	const bottom = 22;
	const top = 8;
	const groups = [...counts.groups].sort(
		(a, b) => PRIORITIES.indexOf(a.key) - PRIORITIES.indexOf(b.key),
	);
	const buckets = new Map();
	for (const g of groups)
		for (const [t, n] of g.series || []) buckets.set(t, (buckets.get(t) || 0) + n);
	const times = [...buckets.keys()].sort((a, b) => a - b);
	const max = Math.max(1, ...buckets.values());
	const n = Math.max(times.length, 1);
	const colW = (W - left) / n;
	const y = (v) => top + (H - top - bottom) * (1 - v / max);
	const svg = s('svg', {
		viewBox: `0 0 ${W} ${H}`,
		class: 'timeline',
		role: 'img',
		'aria-label': 'Alerts over time by priority',
		'data-testid': 'timeline',
	});
	for (const v of [0, max / 2, max]) {
		const yy = y(v).toFixed(1);
		svg.append(s('line', { x1: left, x2: W, y1: yy, y2: yy, class: 'grid' }));
		svg.append(
			s('text', { x: left - 6, y: Number(yy) + 4, 'text-anchor': 'end', class: 'axis' }, fmtNumber(Math.round(v))),
		);
	}
	const span = counts.until - counts.since;
	const index = new Map(times.map((t, i) => [t, i]));
	const stack = new Map();
	for (const g of groups) {
		for (const [t, c] of g.series || []) {
			if (!c) continue;
			const i = index.get(t);
			const base = stack.get(t) || 0;
			stack.set(t, base + c);
			const y0 = y(base);
			const y1 = y(base + c);
			svg.append(
				s(
					'rect',
					{
						x: (left + i * colW + colW * 0.1).toFixed(1),
						y: y1.toFixed(1),
						width: Math.max(colW * 0.8, 0.5).toFixed(1),
						height: Math.max(y0 - y1, 0.5).toFixed(1),
						class: `seg ${prioClass(g.key)}`,
					},
					s('title', {}, `${fmtTime(t)}: ${c} ${g.key}`),
				),
			);
		}
	}
	const labels = Math.min(6, times.length);
	for (let k = 0; k < labels; k++) {
		const i = Math.round((k * (times.length - 1)) / Math.max(labels - 1, 1));
		svg.append(
			s(
				'text',
				{ x: (left + i * colW + colW / 2).toFixed(1), y: H - 6, 'text-anchor': 'middle', class: 'axis' },
				fmtShortTime(times[i], span),
			),
		);
	}
	return svg;
}
