/** One line of the chart: points (x = optimizer step) in its own colour, on its axis. */
export interface Series {
  label: string;
  color: string;
  axis: 'loss' | 'accuracy';
  points: Array<[number, number]>;
}

/**
 * The learning curve on a canvas: loss on the left axis (0 to its largest value), accuracy on the
 * right (0 to 1), steps along the bottom. Redrawn whole on every update; a few thousand points
 * draw in well under a millisecond.
 */
export function drawChart(canvas: HTMLCanvasElement, series: Series[], totalSteps: number): void {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const pad = { left: 44, right: 44, top: 24, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const maxLoss = Math.max(1e-3, ...series.filter((s) => s.axis === 'loss').flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite));
  const xOf = (step: number) => pad.left + (plotW * step) / Math.max(1, totalSteps);
  const yOf = (value: number, axis: Series['axis']) => pad.top + plotH * (1 - value / (axis === 'loss' ? maxLoss : 1));

  g.font = '11px system-ui, sans-serif';
  g.strokeStyle = '#ddd';
  g.fillStyle = '#666';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.top + (plotH * i) / 4;
    g.beginPath();
    g.moveTo(pad.left, y);
    g.lineTo(pad.left + plotW, y);
    g.stroke();
    g.textAlign = 'right';
    g.fillText((maxLoss * (1 - i / 4)).toFixed(2), pad.left - 4, y + 4);
    g.textAlign = 'left';
    g.fillText(`${Math.round(100 * (1 - i / 4))}%`, pad.left + plotW + 4, y + 4);
  }
  g.textAlign = 'center';
  g.fillText(`step (of ${totalSteps})`, pad.left + plotW / 2, height - 6);

  for (const s of series) {
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.beginPath();
    s.points.forEach(([step, value], i) => (i === 0 ? g.moveTo(xOf(step), yOf(value, s.axis)) : g.lineTo(xOf(step), yOf(value, s.axis))));
    g.stroke();
    if (s.points.length < 40) {
      g.fillStyle = s.color;
      for (const [step, value] of s.points) g.fillRect(xOf(step) - 2, yOf(value, s.axis) - 2, 4, 4);
    }
  }
  let legendX = pad.left + 6;
  for (const s of series) {
    g.fillStyle = s.color;
    g.fillRect(legendX, 8, 10, 3);
    g.fillStyle = '#333';
    g.textAlign = 'left';
    g.fillText(s.label, legendX + 14, 13);
    legendX += 22 + g.measureText(s.label).width;
  }
}
