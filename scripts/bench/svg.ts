/**
 * Hand-written SVG charts for the benchmark report (`charts.ts`): a line chart (points joined
 * per series) and a bar chart with a ceiling mark per bar. Static files, no script, no font
 * or stylesheet from elsewhere. Each series is a `<g data-series="name">`, so a reader (or a
 * test) finds what was drawn.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
  /** The line's pattern (e.g. a p99 dotted beside its solid p50). @defaultValue 'solid' */
  dash?: Dash;
  /** Series of one group share a colour (e.g. the percentiles of one run). @defaultValue the series' name */
  group?: string;
  /** A dot on each point; a dense series (RSS sampled every second) goes without, as a thin line. @defaultValue true */
  markers?: boolean;
}

export type Dash = 'solid' | 'dashed' | 'dotted';
const DASH_ARRAY: Record<Dash, string> = { solid: '', dashed: ' stroke-dasharray="7 4"', dotted: ' stroke-dasharray="2 3"' };

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Horizontal reference lines (a goal, a floor). @defaultValue [] */
  references?: { y: number; label: string }[];
  /** Only whole numbers on the x axis (e.g. worker processes). @defaultValue false */
  integerX?: boolean;
}

export interface Bar {
  label: string;
  value: number;
  /** The ceiling the value must stay under, marked across the bar. */
  ceiling?: number;
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  bars: Bar[];
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 48, right: 190, bottom: 56, left: 76 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** Colour-blind-safe (Okabe-Ito). */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

/** Text made safe for XML content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 x 10^n). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max <= min) max = min + (min === 0 ? 1 : Math.abs(min));
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  const last = ticks[ticks.length - 1] ?? max;
  if (last < max) ticks.push(Number((last + step).toPrecision(12)));
  return ticks;
}

/** A tick label: thousands as `k`, small values with the decimals they need. */
export function tickLabel(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Number((v / 1000).toPrecision(4))}k`;
  return String(Number(v.toPrecision(4)));
}

const fixed = (n: number): string => n.toFixed(1);

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** The y axis with grid lines, its label, and the scale it draws. */
function yAxis(ticks: number[], label: string): { body: string[]; y: (v: number) => number } {
  const lo = ticks[0] ?? 0;
  const hi = ticks[ticks.length - 1] ?? 1;
  const y = (v: number): number => MARGIN.top + PLOT_H - ((v - lo) / (hi - lo || 1)) * PLOT_H;
  const body = ticks.map(
    (t) =>
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${fixed(y(t))}" y2="${fixed(y(t))}" stroke="#e0e0e0"/>` +
      `<text x="${MARGIN.left - 6}" y="${fixed(y(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`,
  );
  const mid = MARGIN.top + PLOT_H / 2;
  body.push(
    `<text x="18" y="${mid}" text-anchor="middle" transform="rotate(-90 18 ${mid})">${escapeXml(label)}</text>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`,
  );
  return { body, y };
}

/** About how wide a character of the charts' 11-12 px sans-serif is. */
const CHAR_PX = 6;
/** How many characters fit in `width` px (at least `min`). */
const charsIn = (width: number, min = 1): number => Math.max(min, Math.floor((width - 4) / CHAR_PX));
/** A legend line's height, and the space between two entries. */
const LEGEND_LINE_PX = 14;
const LEGEND_GAP_PX = 6;

/**
 * The legend, right of the plot: a name longer than its column is wrapped (`wrapped`); when the
 * wrapped names would run below the chart, each is cut to one line ending in "…". Each entry
 * carries its whole name as its `<title>`.
 */
function legend(entries: { name: string; colour: string; dash: Dash }[]): string[] {
  const x = MARGIN.left + PLOT_W + 16;
  const column = WIDTH - x - 30;
  const heightOf = (names: string[][]): number => names.reduce((h, lines) => h + LEGEND_GAP_PX + lines.length * LEGEND_LINE_PX, 0);
  let names = entries.map((e) => wrapped(e.name, column));
  if (MARGIN.top + heightOf(names) > HEIGHT) names = entries.map((e) => [cut(e.name, column)]);
  let y = MARGIN.top + 8;
  return entries.map((e, i) => {
    const lines = names[i] ?? [];
    const text = lines
      .map((line, k) => `<tspan x="${x + 30}"${k === 0 ? '' : ` dy="${LEGEND_LINE_PX}"`}>${escapeXml(line)}</tspan>`)
      .join('');
    const out =
      `<g data-legend="${escapeXml(e.name)}"><title>${escapeXml(e.name)}</title>` +
      `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${e.colour}" stroke-width="2.5"${DASH_ARRAY[e.dash]}/>` +
      `<text x="${x + 30}" y="${y + 4}">${text}</text></g>`;
    y += LEGEND_GAP_PX + lines.length * LEGEND_LINE_PX;
    return out;
  });
}

/** `label` on one line of `width` px, its end replaced by "…" when it does not fit. */
function cut(label: string, width: number): string {
  const fit = charsIn(width, 2);
  return label.length <= fit ? label : `${label.slice(0, fit - 1)}…`;
}

/** Series as lines through their points (sorted by x), with a marker per point. */
export function lineChart(spec: LineChartSpec): string {
  const points = spec.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const references = spec.references ?? [];
  const xs = points.map((p) => p.x);
  const ys = [...points.map((p) => p.y), ...references.map((r) => r.y)];
  const xMin = spec.integerX ? Math.min(0, ...xs) : Math.min(...xs, 0);
  let xTicks = niceTicks(xMin, Math.max(...xs, 1));
  if (spec.integerX) xTicks = xTicks.filter((t) => Number.isInteger(t));
  const lo = xTicks[0] ?? 0;
  const hi = xTicks[xTicks.length - 1] ?? 1;
  const x = (v: number): number => MARGIN.left + ((v - lo) / (hi - lo || 1)) * PLOT_W;
  const axis = yAxis(niceTicks(0, Math.max(...ys, 0)), spec.yLabel);
  const body = [...axis.body];
  for (const t of xTicks) {
    body.push(
      `<line x1="${fixed(x(t))}" x2="${fixed(x(t))}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H + 5}" stroke="#333"/>` +
        `<text x="${fixed(x(t))}" y="${MARGIN.top + PLOT_H + 18}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  body.push(`<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  for (const r of references) {
    const y = fixed(axis.y(r.y));
    body.push(
      `<g data-reference="${escapeXml(r.label)}"><line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${y}" y2="${y}" stroke="#B00020" stroke-dasharray="2 3"/>` +
        `<text x="${MARGIN.left + PLOT_W - 4}" y="${fixed(axis.y(r.y) - 5)}" text-anchor="end" fill="#B00020">${escapeXml(r.label)}</text></g>`,
    );
  }
  const entries: { name: string; colour: string; dash: Dash }[] = [];
  const groups = [...new Set(spec.series.map((s) => s.group ?? s.name))];
  for (const s of spec.series) {
    const colour = COLOURS[groups.indexOf(s.group ?? s.name) % COLOURS.length] ?? '#000000';
    const dash = s.dash ?? 'solid';
    entries.push({ name: s.name, colour, dash });
    const sorted = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const d = sorted.map((p, k) => `${k === 0 ? 'M' : 'L'}${fixed(x(p.x))},${fixed(axis.y(p.y))}`).join(' ');
    body.push(
      `<g data-series="${escapeXml(s.name)}">`,
      ...(d ? [`<path d="${d}" fill="none" stroke="${colour}" stroke-width="${s.markers === false ? 1 : 2}"${DASH_ARRAY[dash]}/>`] : []),
      ...(s.markers === false ? [] : sorted).map(
        (p) =>
          `<circle cx="${fixed(x(p.x))}" cy="${fixed(axis.y(p.y))}" r="3.5" fill="${colour}"><title>${escapeXml(`${s.name}: ${tickLabel(p.x)}, ${tickLabel(p.y)}`)}</title></circle>`,
      ),
      '</g>',
    );
  }
  body.push(...legend(entries));
  return frame(spec.title, body);
}

/**
 * A label's words in lines that fit `width` px, so neighbours' labels do not overlap; a word
 * longer than a line is cut into pieces that fit, a line each.
 */
function wrapped(label: string, width: number): string[] {
  const fit = charsIn(width);
  const lines: string[] = [];
  for (const word of label.split(' ')) {
    const last = lines.at(-1);
    if (word.length > fit) {
      for (let at = 0; at < word.length; at += fit) lines.push(word.slice(at, at + fit));
    } else if (last !== undefined && last.length + 1 + word.length <= fit) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** One bar per entry, with its ceiling marked across it (red when the bar passes it). */
export function barChart(spec: BarChartSpec): string {
  const values = spec.bars.flatMap((b) => [b.value, b.ceiling ?? 0]).filter(Number.isFinite);
  const axis = yAxis(niceTicks(0, Math.max(...values, 0)), spec.yLabel);
  const body = [...axis.body];
  const slot = PLOT_W / Math.max(1, spec.bars.length);
  const width = Math.min(60, slot * 0.6);
  spec.bars.forEach((b, i) => {
    const cx = MARGIN.left + slot * (i + 0.5);
    const top = axis.y(b.value);
    const over = b.ceiling !== undefined && b.value > b.ceiling;
    body.push(
      `<g data-series="${escapeXml(b.label)}">`,
      `<rect x="${fixed(cx - width / 2)}" y="${fixed(top)}" width="${fixed(width)}" height="${fixed(MARGIN.top + PLOT_H - top)}" fill="${over ? '#D55E00' : '#0072B2'}"><title>${escapeXml(`${b.label}: ${tickLabel(b.value)}`)}</title></rect>`,
      ...(b.ceiling === undefined
        ? []
        : [
            `<line data-ceiling="${b.ceiling}" x1="${fixed(cx - width / 2 - 8)}" x2="${fixed(cx + width / 2 + 8)}" y1="${fixed(axis.y(b.ceiling))}" y2="${fixed(axis.y(b.ceiling))}" stroke="#B00020" stroke-width="2.5"/>`,
          ]),
      `<text x="${fixed(cx)}" y="${MARGIN.top + PLOT_H + 16}" text-anchor="middle" font-size="11">${wrapped(b.label, slot)
        .map((line, k) => `<tspan x="${fixed(cx)}" dy="${k === 0 ? 0 : 12}">${escapeXml(line)}</tspan>`)
        .join('')}</text>`,
      '</g>',
    );
  });
  body.push(...legend([{ name: 'ceiling', colour: '#B00020', dash: 'solid' }]));
  return frame(spec.title, body);
}
