// A uPlot chart of one snapshot id over time: total, unique and new bytes of each revision. The
// container has a fixed height (style.css), so the page does not move when the chart appears.

import { useContext, useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { dateTime, humanBytes } from './format';
import { ThemeContext } from './theme';
import type { RevisionStats } from './types';

const chartHeight = 180;

/** tick steps of 1, 2 and 5 times powers of 1024, so the axis reads 256 MiB, 512 MiB, 1 GiB */
const byteSteps = [0, 1, 2, 3, 4, 5].flatMap((power) => [1, 2, 5, 10, 20, 50, 100, 200, 500].map((m) => m * 1024 ** power));
export const seriesColors = { total: '#3b82f6', unique: '#e0930b', new: '#10a37f' };

interface Props {
  id: string;
  revisions: RevisionStats[];
}

export function SizeChart({ id, revisions }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const theme = useContext(ThemeContext);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const sorted = [...revisions].sort((a, b) => a.startTime - b.startTime);
    const data: uPlot.AlignedData = [sorted.map((r) => r.startTime / 1000), sorted.map((r) => r.bytes), sorted.map((r) => r.uniqueBytes), sorted.map((r) => r.newBytes)];
    const text = getComputedStyle(element).color;
    const grid = theme === 'dark' ? 'rgba(255,255,255,0.10)' : 'rgba(0,0,0,0.08)';
    const bytes = (_u: uPlot, value: number | null) => (value == null ? '—' : humanBytes(value));
    const series = (label: string, stroke: string): uPlot.Series => ({ label, stroke, width: 2, value: bytes, points: { size: 6, fill: stroke } });
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: chartHeight,
      scales: {
        x: { time: true, range: (_u, min, max) => timeRange(data[0], min, max) },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      series: [
        { label: 'time', value: (_u, value) => (value == null ? '—' : dateTime(value * 1000)) },
        series('total', seriesColors.total),
        series('unique', seriesColors.unique),
        series('new', seriesColors.new),
      ],
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 72, incrs: byteSteps, values: (_u, splits) => splits.map((v) => humanBytes(v)) },
      ],
      cursor: { drag: { x: false, y: false } },
      // the legend shows the latest revision's figures unless the pointer is on another
      hooks: { setCursor: [(u) => u.cursor.idx == null && u.setLegend({ idx: sorted.length - 1 }, false)] },
    };
    const chart = new uPlot(options, data, element);
    chart.setLegend({ idx: sorted.length - 1 }, false);
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, element.clientWidth);
      if (width !== chart.width) chart.setSize({ width, height: chartHeight });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
    };
  }, [revisions, theme]);

  return <div class="chart" ref={container} data-testid={`chart-${id}`} aria-label={`Sizes of ${id}'s revisions over time`} role="img" />;
}

/** a day either side of a lone revision (uPlot would span a thousand days), else 4% of the span either side, so no point sits on the edge */
function timeRange(times: ArrayLike<number>, min: number, max: number): [number, number] {
  const first = times[0] ?? min;
  const last = times[times.length - 1] ?? max;
  if (last - first < 60) return [first - 86400, last + 86400];
  const pad = (last - first) * 0.04;
  return [first - pad, last + pad];
}
