/**
 * A small hand-written SVG line chart (no dependencies): axes, ticks, one polyline per series,
 * legend; and a figure of several such charts side by side under one shared legend.
 */
export interface ChartSeries {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  dashed?: boolean;
  /**
   * 'line' (default): a polyline, with a dot on each point when there are few. 'diamond': a
   * diamond on each point and no line, for single readings (a final score) beside the curves.
   */
  style?: 'line' | 'diamond';
  /** Pixels to move the diamonds sideways: several runs' scores at one x stay visible side by side. */
  dodge?: number;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  width?: number;
  height?: number;
  /** Tick values for the x axis; default 5 evenly spaced. */
  xTicks?: number[];
  /** The y axis' range; default from min(0, smallest value) to 5% above the largest value. */
  yMin?: number;
  yMax?: number;
  /** Whether the chart draws its own legend (default true); a figure draws one for all its charts. */
  legend?: boolean;
}

/** One line of a legend: a sample of the line (or diamond) and its name. */
export interface LegendEntry {
  name: string;
  color: string;
  dashed?: boolean;
  style?: 'line' | 'diamond';
}

export interface FigureOptions {
  title: string;
  /** Drawn left to right, each at its own width and height. */
  charts: LineChartOptions[];
  /** Drawn below the charts, a row at a time, in as many columns as the longest row has entries. */
  legend: LegendEntry[][];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const LEGEND_ROW = 18;
const FIGURE_TITLE_HEIGHT = 30;

/** The colour of the i-th series (or run): the palette, repeated. */
export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick step (1, 2 or 5 times a power of ten) giving about `count` ticks over [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (Math.abs(v) >= 1000 || v === 0) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

function diamond(cx: number, cy: number, color: string): string {
  const r = 6;
  const points = [[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]].map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polygon points="${points}" fill="${color}" stroke="black" stroke-width="1"/>`;
}

/** A legend line whose sample starts at (x, y). */
function legendItem(entry: LegendEntry, x: number, y: number): string[] {
  const sample =
    entry.style === 'diamond'
      ? diamond(x + 12, y, entry.color)
      : `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${entry.color}" stroke-width="2"${entry.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
  return [sample, `<text x="${x + 30}" y="${y}" dominant-baseline="middle">${escapeXml(entry.name)}</text>`];
}

/** The elements of one chart (title, grid, axes, series, legend) in its width × height box at the origin. */
function chartElements(options: LineChartOptions): string[] {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const margin = { left: 70, right: 20, top: 40, bottom: 55 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = options.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const yMin = options.yMin ?? Math.min(0, ...ys);
  const yMax = options.yMax ?? (ys.length ? Math.max(...ys) * 1.05 || 1 : 1);
  const sx = (x: number) => margin.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number) => margin.top + plotH - ((y - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`);
  for (const t of niceTicks(yMin, yMax)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`);
  }
  for (const t of options.xTicks ?? niceTicks(xMin, xMax)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="black"/>`);
    parts.push(`<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="black"/>`);
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="black"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  options.series.forEach((s, i) => {
    const color = s.color ?? seriesColor(i);
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (s.style === 'diamond') {
      for (const [x, y] of pts) parts.push(diamond(sx(x) + (s.dodge ?? 0), sy(y), color));
    } else {
      const path = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      // The series' name as a tooltip: which run a line is, when several share a chart.
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${path}"><title>${escapeXml(s.name)}</title></polyline>`);
      if (pts.length <= 40) {
        for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
    if (options.legend !== false) parts.push(...legendItem({ ...s, color }, margin.left + 12, margin.top + 8 + i * LEGEND_ROW));
  });
  return parts;
}

function svgDocument(width: number, height: number, elements: string[]): string {
  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...elements,
    '</svg>',
  ].join('\n')}\n`;
}

export function lineChartSvg(options: LineChartOptions): string {
  return svgDocument(options.width ?? 640, options.height ?? 400, chartElements(options));
}

/** Several charts side by side under one title, with one legend below them all. */
export function figureSvg(options: FigureOptions): string {
  const width = options.charts.reduce((sum, c) => sum + (c.width ?? 640), 0);
  const chartsHeight = Math.max(0, ...options.charts.map((c) => c.height ?? 400));
  const legendTop = FIGURE_TITLE_HEIGHT + chartsHeight + LEGEND_ROW / 2;
  const height = legendTop + options.legend.length * LEGEND_ROW + 8;
  const parts = [`<text x="${width / 2}" y="22" text-anchor="middle" font-size="16">${escapeXml(options.title)}</text>`];
  let left = 0;
  for (const chart of options.charts) {
    parts.push(`<g transform="translate(${left} ${FIGURE_TITLE_HEIGHT})">`, ...chartElements({ ...chart, legend: false }), '</g>');
    left += chart.width ?? 640;
  }
  const indent = 70;
  const columnWidth = (width - 2 * indent) / Math.max(1, ...options.legend.map((row) => row.length));
  options.legend.forEach((row, r) => {
    row.forEach((entry, c) => parts.push(...legendItem(entry, indent + c * columnWidth, legendTop + r * LEGEND_ROW)));
  });
  return svgDocument(width, height, parts);
}
