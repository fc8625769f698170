/** Milliseconds of an ISO timestamp; an unparsable one sorts first. */
export function timeOf(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? -Infinity : t;
}
