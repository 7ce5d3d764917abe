// How a benchmark hands its figures to `bench/run.ts`, which prints one table for the whole run.
// Each benchmark prints its own tables as before, and at the end one line `BENCH_FIGURES <json>`
// holding its headline figures; run.ts reads those lines from the benchmarks' output.

/** A target a figure is measured against: at least or at most a value. */
export interface FigureTarget {
  atLeast?: number;
  atMost?: number;
}

export interface BenchFigure {
  /** What is measured, in words: "durable webhooks/s, customers/create, SQLite". */
  figure: string;
  value: number;
  /** The unit of `value` and of `raw`: "/s", "ms", "×", "units". */
  unit: string;
  /** CPU time of the engine per operation (all its threads), in microseconds; the steadiest figure on a busy machine. */
  cpuMicrosPerOperation?: number;
  /** The raw limit of the same storage measured in the same run, in the same unit. */
  raw?: number;
  /** What the raw limit is, in a few words. */
  rawWhat?: string;
  /**
   * The most the engine could do on this machine, measured in the same run: the operations a second
   * of one fully busy core if it did nothing but the raw storage's work and, for an HTTP figure,
   * what a bare Fastify server spends answering the same requests (CPU µs per operation added). An
   * upper bound: the engine also checks, parses and decides. A target above it cannot be met here
   * by one engine process, whatever the engine does.
   */
  ceiling?: number;
  /** What the ceiling adds up, in a few words. */
  ceilingWhat?: string;
  target?: FigureTarget;
  /** Anything the reader needs beside the number (a p99, a count). */
  note?: string;
}

export const figuresLinePrefix = 'BENCH_FIGURES ';

/** Prints the figures for bench/run.ts to collect (one line, at the end of the benchmark). */
export function reportFigures(benchmark: string, figures: BenchFigure[]): void {
  for (const figure of figures) {
    if (!Number.isFinite(figure.value)) figure.value = Number.NaN;
  }
  console.log(`${figuresLinePrefix}${JSON.stringify({ benchmark, figures })}`);
}

/** The middle value (the mean of the two middle ones for an even count): paired runs' ratios are read by it. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('a median of at least one value');
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Operations a second of one core spending the sum of these CPU µs per operation. */
export function ceilingOf(...cpuMicrosPerOperation: number[]): number {
  const total = cpuMicrosPerOperation.reduce((sum, micros) => sum + micros, 0);
  return total > 0 && Number.isFinite(total) ? 1_000_000 / total : Number.NaN;
}

/** Whether a figure's "at least" target is above the ceiling this machine allows. */
export function targetAboveCeiling(figure: BenchFigure): boolean {
  return figure.target?.atLeast !== undefined && figure.ceiling !== undefined && Number.isFinite(figure.ceiling) && figure.target.atLeast > figure.ceiling;
}

/** Whether a figure meets its target: true, false, or undefined when it has none (or no value). */
export function meetsTarget(figure: BenchFigure): boolean | undefined {
  if (!figure.target || !Number.isFinite(figure.value)) return undefined;
  if (figure.target.atLeast !== undefined && figure.value < figure.target.atLeast) return false;
  if (figure.target.atMost !== undefined && figure.value > figure.target.atMost) return false;
  return true;
}
