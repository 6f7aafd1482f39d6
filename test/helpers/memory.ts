/**
 * Typed-array memory that `make` leaves held: V8's collector runs before and after (so the garbage
 * of earlier tests does not offset the figure), and what `make` returns is kept alive until measured.
 */
import v8 from 'v8';
import vm from 'vm';

v8.setFlagsFromString('--expose-gc');
// Array buffers freed by a collection are otherwise swept on another thread, later: the figure
// before `make` would still count an earlier test's garbage, which then goes during `make`.
v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
const gc = vm.runInNewContext('gc') as () => void;

export function heldArrayBytes(make: () => unknown): number {
  gc();
  const before = process.memoryUsage().arrayBuffers;
  const kept = make();
  gc();
  const held = process.memoryUsage().arrayBuffers - before;
  // Read after the measurement: `kept` (and all it holds) stays alive until here.
  if (kept === undefined) throw new Error('heldArrayBytes: make() must return what it built');
  return held;
}

/** Collects, then waits until array-buffer memory stops moving (buffers freed earlier can be released late). */
async function settledArrayBuffers(): Promise<number> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
    const now = process.memoryUsage().arrayBuffers;
    if (now === last) return now;
    last = now;
  }
  return last;
}

/**
 * heldArrayBytes for figures that must be close, not only below a bound: memory is read only once
 * it has stopped moving before and after `make`, so that another test's garbage released late
 * (seen in a full parallel run: tens of MB) does not count against it.
 */
export async function heldArrayBytesSettled(make: () => unknown): Promise<number> {
  const before = await settledArrayBuffers();
  const kept = make();
  const held = (await settledArrayBuffers()) - before;
  if (kept === undefined) throw new Error('heldArrayBytesSettled: make() must return what it built');
  return held;
}
