/**
 * Runs `task(i)` for i in 0..count-1 with at most `concurrency` in flight, and returns the results
 * in index order. Rejections are kept as results, so one failure never hides the others.
 */
export async function runConcurrently<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const results = new Array<PromiseSettledResult<T>>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      results[i] = await task(i).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Runs `concurrency` loops of `task` until `windowMs` has passed; returns how many calls completed in it. */
export async function runForWindow(concurrency: number, windowMs: number, task: () => Promise<unknown>) {
  const end = Date.now() + windowMs;
  let completed = 0;
  const worker = async () => {
    while (Date.now() < end) {
      await task();
      if (Date.now() <= end) completed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return completed;
}
