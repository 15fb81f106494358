/**
 * Waits for `work` to settle, at most `graceMs`: true when it all did, false when time ran out. The workers
 * use it on shutdown to let what is in flight finish.
 */
export async function settledWithin(work: Iterable<Promise<unknown>>, graceMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    Promise.allSettled(work).then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}
