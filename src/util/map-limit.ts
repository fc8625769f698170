/**
 * Map with at most `limit` calls in flight; results keep the input order. With `yieldEvery`,
 * each worker lets the event loop run every that many items (sync I/O would otherwise hold it).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
  yieldEvery = 0,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    let done = 0;
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
      if (yieldEvery > 0 && ++done % yieldEvery === 0) await new Promise<void>((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
