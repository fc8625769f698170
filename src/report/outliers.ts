/**
 * Group outliers of one metric: a value is an outlier when it lies outside Tukey's fences
 * (below Q1 - 1.5 IQR or above Q3 + 1.5 IQR, the boxplot's whiskers) or when |z| > 3.
 * Pure functions over finite numbers; missing values (null, NaN) are ignored.
 */

export const IQR_FACTOR = 1.5;
export const Z_LIMIT = 3;
/** Fewer values than this: no statistics, no outliers (quartiles of 3 numbers say nothing). */
export const MIN_VALUES_FOR_OUTLIERS = 5;

export interface MetricStats {
  n: number;
  mean: number;
  sd: number;
  q1: number;
  median: number;
  q3: number;
  low: number;
  high: number;
}

export interface Outlier {
  /** Position of the value in the input array. */
  index: number;
  value: number;
  z: number | null;
  /** Why it is an outlier, for the page: `> Q3 + 1.5 IQR`, `|z| = 3.4`, or both. */
  reason: string;
}

/** Linear-interpolation quantile (the "R-7" definition, as numpy's default) of sorted values. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
}

/** Mean, sample SD, quartiles and fences of the finite values; null when there are too few. */
export function metricStats(values: readonly (number | null)[]): MetricStats | null {
  const finite: number[] = [];
  for (const v of values) if (typeof v === "number" && Number.isFinite(v)) finite.push(v);
  if (finite.length < MIN_VALUES_FOR_OUTLIERS) return null;
  finite.sort((a, b) => a - b);
  const n = finite.length;
  let sum = 0;
  for (const v of finite) sum += v;
  const mean = sum / n;
  let sq = 0;
  for (const v of finite) sq += (v - mean) ** 2;
  const sd = Math.sqrt(sq / (n - 1));
  const q1 = quantileSorted(finite, 0.25);
  const q3 = quantileSorted(finite, 0.75);
  const iqr = q3 - q1;
  return { n, mean, sd, q1, median: quantileSorted(finite, 0.5), q3, low: q1 - IQR_FACTOR * iqr, high: q3 + IQR_FACTOR * iqr };
}

/** The outliers among `values` (see the module comment), most extreme first. */
export function findOutliers(values: readonly (number | null)[], stats: MetricStats | null = metricStats(values)): Outlier[] {
  if (!stats) return [];
  const found: Outlier[] = [];
  values.forEach((v, index) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    const z = stats.sd > 0 ? (v - stats.mean) / stats.sd : null;
    const reasons: string[] = [];
    if (v < stats.low) reasons.push(`< Q1 - ${IQR_FACTOR} IQR`);
    if (v > stats.high) reasons.push(`> Q3 + ${IQR_FACTOR} IQR`);
    if (z !== null && Math.abs(z) > Z_LIMIT) reasons.push(`|z| = ${Math.abs(z).toFixed(1)}`);
    if (reasons.length) found.push({ index, value: v, z, reason: reasons.join(", ") });
  });
  return found.sort((a, b) => Math.abs(b.z ?? 0) - Math.abs(a.z ?? 0));
}
