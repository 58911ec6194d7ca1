/** One line of a chart: points (x, y) and how to draw them. */
export interface ChartLine {
  label: string;
  color: string;
  points: { x: number; y: number; note?: string }[];
}

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Powers of ten from below `min` to above `max`. */
function decades(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e += 1)
    ticks.push(10 ** e);
  return ticks;
}

const tickLabel = (value: number) =>
  value >= 1_000_000 ? `${value / 1_000_000}M` : value >= 1000 ? `${value / 1000}k` : String(value);

/** A log-log line chart as an SVG document: no dependencies, readable on GitHub. */
export function logLogChart({
  title,
  xLabel,
  yLabel,
  lines,
}: {
  title: string;
  xLabel: string;
  yLabel: string;
  lines: ChartLine[];
}): string {
  const width = 760;
  const height = 440;
  const left = 70;
  const right = 200;
  const top = 40;
  const bottom = 60;
  const all = lines.flatMap((line) => line.points).filter((p) => p.x > 0 && p.y > 0);
  const xTicks = decades(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x)));
  const yTicks = decades(Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y)));
  const scale = (value: number, ticks: number[], from: number, to: number) => {
    const low = Math.log10(ticks[0]);
    const high = Math.log10(ticks[ticks.length - 1]);
    return from + ((Math.log10(value) - low) / (high - low || 1)) * (to - from);
  };
  const x = (value: number) => scale(value, xTicks, left, width - right);
  const y = (value: number) => scale(value, yTicks, height - bottom, top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  for (const tick of xTicks) {
    out.push(
      `<line x1="${x(tick)}" y1="${top}" x2="${x(tick)}" y2="${height - bottom}" stroke="#ddd"/>`,
      `<text x="${x(tick)}" y="${height - bottom + 18}" text-anchor="middle">${tickLabel(tick)}</text>`,
    );
  }
  for (const tick of yTicks) {
    out.push(
      `<line x1="${left}" y1="${y(tick)}" x2="${width - right}" y2="${y(tick)}" stroke="#ddd"/>`,
      `<text x="${left - 8}" y="${y(tick) + 4}" text-anchor="end">${tickLabel(tick)}</text>`,
    );
  }
  out.push(
    `<text x="${(left + width - right) / 2}" y="${height - 15}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text transform="translate(18 ${(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`,
  );
  lines.forEach((line, index) => {
    const points = line.points.filter((p) => p.x > 0 && p.y > 0).sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      const path = points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${path}" fill="none" stroke="${line.color}" stroke-width="2"/>`);
    }
    for (const p of points) {
      out.push(
        `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.5" fill="${line.color}"/>`,
      );
      if (p.note) {
        out.push(
          `<text x="${(x(p.x) + 5).toFixed(1)}" y="${(y(p.y) - 6).toFixed(1)}" font-size="10" fill="${line.color}">${escape(p.note)}</text>`,
        );
      }
    }
    const legendY = top + 10 + index * 20;
    out.push(
      `<line x1="${width - right + 15}" y1="${legendY}" x2="${width - right + 40}" y2="${legendY}" stroke="${line.color}" stroke-width="2"/>`,
      `<text x="${width - right + 46}" y="${legendY + 4}">${escape(line.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
