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
