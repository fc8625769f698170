import { MAX_OUTLIERS_PER_METRIC, REPORT_METRICS, type ReportOutlier, type ReportRowInput } from "./data.js";
import { findOutliers, metricStats } from "./outliers.js";

/** Subjects the page holds at most (the rest are counted; batch_metrics.csv and batch_summary.json have all). */
export const REPORT_ROWS_MAX = 10_000;

/** What the page shows of a study larger than it holds (null: every subject). */
export interface ReportSample {
  /** Subjects in the study (tasks), and how many the page holds. */
  total: number;
  shown: number;
  /** Successful subjects, and how many of them the page holds (a uniform random sample). */
  succeeded: number;
  succeededShown: number;
  /** Other subjects (failed, stale, running, pending), and how many the page holds (the first in plan order). */
  others: number;
  othersShown: number;
}

/**
 * The report's rows gathered as collect makes them, in bounded memory. Up to `max` subjects the
 * page holds every one, as before. A larger study's page holds `max` of them: those that did not
 * succeed first (plan order; at least half the page, all of it when few succeeded) and a uniform
 * random sample of the successful ones filling the rest (`ReportSample` says how many of each: the page states it). The outliers are
 * computed over every successful subject (each metric's values are held as numbers, ~10 MB at
 * 200,000), so no outlier is missed by the sampling.
 */
export class ReportRows {
  private readonly others: Array<{ n: number; row: ReportRowInput }> = [];
  private readonly succeeded: Array<{ n: number; row: ReportRowInput }> = [];
  private othersSeen = 0;
  private succeededSeen = 0;
  private seen = 0;
  private readonly values: Float64Array[] = REPORT_METRICS.map(() => new Float64Array(1024));
  private readonly keys: string[] = [];
  private readonly random: () => number;

  constructor(private readonly max = REPORT_ROWS_MAX, seed = 0x5eed) {
    this.random = mulberry32(seed);
  }

  /** The next subject, in plan order. */
  add(row: ReportRowInput): void {
    const n = this.seen++;
    if (row.status !== "success") {
      this.othersSeen++;
      // Every one while the whole study may fit; then the first max / 2.
      if (this.others.length < this.max) this.others.push({ n, row });
      return;
    }
    const s = this.succeededSeen++;
    this.keep(s, row);
    if (this.succeeded.length < this.max) this.succeeded.push({ n, row });
    else {
      // Reservoir sampling (Algorithm R): each successful subject is held with the same chance.
      const j = Math.floor(this.random() * (s + 1));
      if (j < this.max) this.succeeded[j] = { n, row };
    }
  }

  /** Values for the outliers (success only). */
  private keep(s: number, row: ReportRowInput): void {
    if (s >= this.values[0]!.length) {
      for (let m = 0; m < this.values.length; m++) {
        const bigger = new Float64Array(this.values[m]!.length * 2);
        bigger.set(this.values[m]!);
        this.values[m] = bigger;
      }
    }
    for (let m = 0; m < REPORT_METRICS.length; m++) {
      const v = row.metrics?.[m];
      this.values[m]![s] = typeof v === "number" && Number.isFinite(v) ? v : Number.NaN;
    }
    this.keys.push(row.session ? `${row.subject}_${row.session}` : row.subject);
  }

  /** The page's rows (plan order), what they sample, and the outliers over every successful subject. */
  result(): { rows: ReportRowInput[]; sample: ReportSample | null; outliers: ReportOutlier[] } {
    let succeeded = this.succeeded;
    let others = this.others;
    if (this.seen > this.max) {
      // The others get at least half the page (all of it when few succeeded); the sample the rest.
      const othersShown = Math.min(others.length, this.max - Math.min(succeeded.length, Math.floor(this.max / 2)));
      others = others.slice(0, othersShown);
      if (succeeded.length > this.max - othersShown) succeeded = sampleOf(succeeded, this.max - othersShown, this.random);
    }
    const rows = [...others, ...succeeded].sort((a, b) => a.n - b.n).map((e) => e.row);
    const sample: ReportSample | null =
      this.seen > this.max
        ? { total: this.seen, shown: rows.length, succeeded: this.succeededSeen, succeededShown: succeeded.length, others: this.othersSeen, othersShown: others.length }
        : null;
    return { rows, sample, outliers: this.outliers() };
  }

  private outliers(): ReportOutlier[] {
    const found: ReportOutlier[] = [];
    REPORT_METRICS.forEach((metric, m) => {
      const arr = this.values[m]!;
      const values: (number | null)[] = new Array(this.succeededSeen);
      for (let i = 0; i < this.succeededSeen; i++) values[i] = Number.isNaN(arr[i]!) ? null : arr[i]!;
      for (const o of findOutliers(values, metricStats(values)).slice(0, MAX_OUTLIERS_PER_METRIC)) {
        found.push({ key: this.keys[o.index] as string, metric, value: o.value, z: o.z === null ? null : Math.round(o.z * 100) / 100, reason: o.reason });
      }
    });
    return found;
  }
}

/** `k` of `list`, uniformly, keeping their order. */
function sampleOf<T>(list: readonly T[], k: number, random: () => number): T[] {
  const picked = list.map((e, i) => ({ e, i, r: random() })).sort((a, b) => a.r - b.r).slice(0, k);
  return picked.sort((a, b) => a.i - b.i).map((p) => p.e);
}

/** A small seeded generator: the same study gives the same page. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
