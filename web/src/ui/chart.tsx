import { useId, type ReactNode } from 'react';

// Hand-made SVG charts: a few hundred bytes of code instead of a charting library. Each chart is an
// image with a title and a description for screen readers, and its figures are in a table below it
// (under "Show the figures"), so nothing is only in the picture.

export interface Series {
  name: string;
  values: number[];
}

interface ChartProps {
  title: string;
  /** One sentence a screen reader reads for the picture: what it shows. */
  description: string;
  labels: string[];
  series: Series[];
  format?: (value: number) => string;
  /** Short labels under the axis (every label is in the table). */
  axisLabel?: (label: string, index: number) => string;
}

const width = 640;
const height = 220;
const margin = { top: 12, right: 12, bottom: 34, left: 56 };
/** Bars drawn at most; a longer range is summarised by the table. */
const categoriesMax = 60;
/** The widest bar, in the chart's own units: a few categories still look like bars, not walls. */
const barWidthMax = 56;
/** A line with at most this many points marks each with a dot. */
const dotsMax = 40;

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function ChartFrame({ title, description, children, table }: { title: string; description: string; children: ReactNode; table: ReactNode }) {
  const id = useId();
  return (
    <figure className="chart">
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-title ${id}-description`} preserveAspectRatio="xMidYMid meet">
        <desc id={`${id}-description`}>{description}</desc>
        {children}
      </svg>
      <details>
        <summary>Show the figures</summary>
        {table}
      </details>
    </figure>
  );
}

function FiguresTable({ title, labels, series, format }: { title: string; labels: string[]; series: Series[]; format: (value: number) => string }) {
  return (
    <table>
      <caption className="visually-hidden">{title}</caption>
      <thead>
        <tr><th scope="col">—</th>{series.map((item) => <th scope="col" key={item.name}>{item.name}</th>)}</tr>
      </thead>
      <tbody>
        {labels.map((label, index) => (
          <tr key={index}><th scope="row">{label}</th>{series.map((item) => <td key={item.name} className="number">{format(item.values[index] ?? 0)}</td>)}</tr>
        ))}
      </tbody>
    </table>
  );
}

function Axis({ maxValue, format, plotHeight }: { maxValue: number; format: (value: number) => string; plotHeight: number }) {
  return (
    <g className="axis" aria-hidden="true">
      {[0, 0.5, 1].map((fraction) => {
        const y = margin.top + plotHeight * (1 - fraction);
        return (
          <g key={fraction}>
            <line x1={margin.left} x2={width - margin.right} y1={y} y2={y} className="grid" />
            <text x={margin.left - 6} y={y + 4} textAnchor="end">{format(maxValue * fraction)}</text>
          </g>
        );
      })}
    </g>
  );
}

function Legend({ series }: { series: Series[] }) {
  if (series.length < 2) return null;
  return (
    <g aria-hidden="true">
      {series.map((item, index) => (
        <g key={item.name} transform={`translate(${margin.left + index * 150}, ${height - 10})`}>
          <rect width="10" height="10" y="-9" className={`series-${index}`} />
          <text x="14">{item.name}</text>
        </g>
      ))}
    </g>
  );
}

/** Grouped bars: one group per label, one bar per series. */
export function BarChart({ title, description, labels, series, format = String, axisLabel = (label) => label }: ChartProps) {
  const shown = labels.slice(-categoriesMax);
  const offset = labels.length - shown.length;
  const maxValue = niceMax(Math.max(0, ...series.flatMap((item) => item.values)));
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom - (series.length > 1 ? 14 : 0);
  const groupWidth = plotWidth / Math.max(shown.length, 1);
  const barWidth = Math.min(barWidthMax, Math.max(2, (groupWidth * 0.8) / Math.max(series.length, 1)));
  const groupInset = (groupWidth - barWidth * series.length) / 2;
  const labelEvery = Math.ceil(shown.length / 8);
  return (
    <ChartFrame title={title} description={description} table={<FiguresTable title={title} labels={labels} series={series} format={format} />}>
      <Axis maxValue={maxValue} format={format} plotHeight={plotHeight} />
      {shown.map((label, index) => (
        // By position: two categories may share a label (rows of another grouping while the new one loads).
        <g key={index} aria-hidden="true">
          {series.map((item, seriesIndex) => {
            const value = item.values[index + offset] ?? 0;
            const barHeight = (Math.max(0, value) / maxValue) * plotHeight;
            const x = margin.left + index * groupWidth + groupInset + seriesIndex * barWidth;
            return <rect key={item.name} x={x} y={margin.top + plotHeight - barHeight} width={barWidth} height={barHeight} className={`series-${seriesIndex}`} />;
          })}
          {index % labelEvery === 0 ? <text x={margin.left + index * groupWidth + groupWidth / 2} y={margin.top + plotHeight + 18} textAnchor="middle">{axisLabel(label, index + offset)}</text> : null}
        </g>
      ))}
      <Legend series={series} />
    </ChartFrame>
  );
}

/** Lines over time: one line per series. */
export function LineChart({ title, description, labels, series, format = String, axisLabel = (label) => label }: ChartProps) {
  const maxValue = niceMax(Math.max(0, ...series.flatMap((item) => item.values)));
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom - (series.length > 1 ? 14 : 0);
  const step = plotWidth / Math.max(labels.length - 1, 1);
  const labelEvery = Math.ceil(labels.length / 8);
  // One point alone sits in the middle; a short series shows its points as dots.
  const xOf = (index: number) => (labels.length === 1 ? margin.left + plotWidth / 2 : margin.left + index * step);
  const yOf = (value: number) => margin.top + plotHeight - (Math.max(0, value) / maxValue) * plotHeight;
  const point = (value: number, index: number) => `${xOf(index).toFixed(1)},${yOf(value).toFixed(1)}`;
  return (
    <ChartFrame title={title} description={description} table={<FiguresTable title={title} labels={labels} series={series} format={format} />}>
      <Axis maxValue={maxValue} format={format} plotHeight={plotHeight} />
      {series.map((item, seriesIndex) => (
        <g key={item.name} aria-hidden="true" className={`series-${seriesIndex}`}>
          <polyline fill="none" className={`line series-${seriesIndex}`} points={item.values.map(point).join(' ')} />
          {labels.length <= dotsMax ? item.values.map((value, index) => <circle key={index} cx={xOf(index)} cy={yOf(value)} r="3" className={`dot series-${seriesIndex}`} />) : null}
        </g>
      ))}
      <g aria-hidden="true">
        {labels.map((label, index) => (index % labelEvery === 0 ? <text key={index} x={xOf(index)} y={margin.top + plotHeight + 18} textAnchor="middle">{axisLabel(label, index)}</text> : null))}
      </g>
      <Legend series={series} />
    </ChartFrame>
  );
}
