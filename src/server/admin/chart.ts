/**
 * The operations page's chart: changes per minute in and out of one connector over the last
 * hour, as inline SVG (no script, no image request, styled by the page's classes).
 */
import { html } from '../html.js';
import type { Html } from '../html.js';

/** One minute of the chart: its start (ms) and the changes in and out. */
export interface ChartPoint {
  at: number;
  in: number;
  out: number;
}

const WIDTH = 600;
const HEIGHT = 160;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };

/** The smallest of 1, 2 and 5 times a power of ten at or above `max` (at least 1): the top of the y axis. */
export function niceCeiling(max: number): number {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** The SVG polyline points of one series, minute i at x, count at y (the top of the axis at PAD.top). */
export function polylinePoints(values: readonly number[], top: number): string {
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const step = values.length > 1 ? innerW / (values.length - 1) : 0;
  return values
    .map((v, i) => `${(PAD.left + i * step).toFixed(1)},${(PAD.top + innerH - (Math.min(v, top) / top) * innerH).toFixed(1)}`)
    .join(' ');
}

/** `HH:MM` UTC of an instant. */
function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 16);
}

/** The chart of `points` (oldest first), titled for `connector`; `id` names its title for `aria-labelledby`. */
export function changesChart(connector: string, points: readonly ChartPoint[], id: string): Html {
  const totalIn = points.reduce((n, p) => n + p.in, 0);
  const totalOut = points.reduce((n, p) => n + p.out, 0);
  const top = niceCeiling(Math.max(0, ...points.map((p) => Math.max(p.in, p.out))));
  const first = points[0];
  const last = points.at(-1);
  const baseline = HEIGHT - PAD.bottom;
  const summary = `${totalIn} in and ${totalOut} out in the last ${points.length} minutes; at most ${top} a minute on the scale.`;
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg">
<title id="${id}-title">Changes per minute for ${connector}, in and out</title>
<desc id="${id}-desc">${summary}</desc>
<line class="axis" x1="${PAD.left}" y1="${baseline}" x2="${WIDTH - PAD.right}" y2="${baseline}"/>
<line class="grid" x1="${PAD.left}" y1="${PAD.top}" x2="${WIDTH - PAD.right}" y2="${PAD.top}"/>
<text class="label" x="${PAD.left - 4}" y="${PAD.top + 4}" text-anchor="end">${top}</text>
<text class="label" x="${PAD.left - 4}" y="${baseline + 4}" text-anchor="end">0</text>
${first ? html`<text class="label" x="${PAD.left}" y="${HEIGHT - 6}">${clock(first.at)}</text>` : ''}
${last ? html`<text class="label" x="${WIDTH - PAD.right}" y="${HEIGHT - 6}" text-anchor="end">${clock(last.at)} UTC</text>` : ''}
<polyline class="series-in" fill="none" points="${polylinePoints(
    points.map((p) => p.in),
    top,
  )}"/>
<polyline class="series-out" fill="none" points="${polylinePoints(
    points.map((p) => p.out),
    top,
  )}"/>
</svg>
<p class="legend"><span class="key-in">In</span> ${totalIn} · <span class="key-out">Out</span> ${totalOut} <span class="muted">(last ${points.length} minutes)</span></p>`;
}
