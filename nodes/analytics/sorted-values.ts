/**
 * A sliding window's values kept in sorted order in one typed array, for exact ranks (median, p95,
 * the MAD): a value goes in at its place by binary search and one move of the values above it,
 * and the k-th smallest is one read. Equal values stay in arrival order and the oldest of them
 * leaves first, so the order is exactly that of a stable sort of the window (down to the sign of
 * a zero, -0 and 0 comparing equal).
 *
 * A value that leaves is not moved out at once: the removal waits for the next value to arrive,
 * and then both are one move of the values between the two places (about a third of the window
 * on average for unrelated values, where a move out and a move in take all of it). A read of a
 * rank completes a waiting removal first.
 *
 * Moves cost O(n) a sample: a few kB for the windows this serves (up to SORTED_VALUES_MAX values),
 * less than the pointer chasing of a tree there.
 */

/** The largest window kept in a sorted array; larger ones use an order-statistics tree. */
export const SORTED_VALUES_MAX = 4096;

export class SortedValues {
  private sorted: Float64Array;
  /** Values held, the one waiting to leave included. */
  private held = 0;
  /** A value that has left the window but is still in `sorted` (see above). */
  private leaving = 0;
  private hasLeaving = false;

  constructor(capacity: number) {
    this.sorted = new Float64Array(Math.max(1, capacity));
  }

  /** Values in the window (the one waiting to leave not counted). */
  get count(): number {
    return this.hasLeaving ? this.held - 1 : this.held;
  }

  /** Room for `capacity` values, the values held kept. */
  grow(capacity: number): void {
    if (capacity <= this.sorted.length) return;
    const next = new Float64Array(capacity);
    next.set(this.sorted.subarray(0, this.held));
    this.sorted = next;
  }

  clear(): void {
    this.held = 0;
    this.hasLeaving = false;
  }

  /** Adds x after every value equal to it (the newest of its run). */
  insert(x: number): void {
    if (this.hasLeaving) {
      this.hasLeaving = false;
      this.replace(this.leaving, x);
      return;
    }
    if (this.held === this.sorted.length) this.grow(this.sorted.length * 2);
    const at = this.upperBound(x);
    this.sorted.copyWithin(at + 1, at, this.held);
    this.sorted[at] = x;
    this.held++;
  }

  /** Removes the oldest of the values equal to x (x must be held): at the next insert or read. */
  remove(x: number): void {
    if (this.hasLeaving) this.settle();
    this.leaving = x;
    this.hasLeaving = true;
  }

  /** The k-th smallest value (0-based), k below count. */
  kth(k: number): number {
    if (this.hasLeaving) this.settle();
    return this.sorted[k];
  }

  /** Quantile p of the values held, linear interpolation between closest ranks (type 7). */
  quantile(p: number): number {
    if (this.hasLeaving) this.settle();
    const n = this.held;
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const frac = h - lo;
    if (frac === 0 || lo + 1 >= n) return this.sorted[lo];
    const a = this.sorted[lo];
    return a + frac * (this.sorted[lo + 1] - a);
  }

  /** Moves the waiting value out. */
  private settle(): void {
    this.hasLeaving = false;
    const at = this.lowerBound(this.leaving);
    this.sorted.copyWithin(at, at + 1, this.held);
    this.held--;
  }

  /**
   * Takes `old` out (the first of its run) and x in (after its run) in one move: the values
   * between the two places shift by one towards the place that frees up.
   */
  private replace(old: number, x: number): void {
    const sorted = this.sorted;
    // Both searches in one loop: lowerBound(old) and upperBound(x) over the same length, so they
    // halve together, and their two chains of dependent loads overlap instead of following each other.
    let i = 0;
    let j = 0;
    let len = this.held;
    while (len > 1) {
      const half = len >> 1;
      i += half & -((sorted[i + half - 1] < old) as unknown as number);
      j += half & -((sorted[j + half - 1] <= x) as unknown as number);
      len -= half;
    }
    if (len === 1) {
      if (sorted[i] < old) i++;
      if (sorted[j] <= x) j++;
    }
    // x's place with `old` still at i: the same below i, one lower above it once `old` is out.
    if (j <= i) {
      sorted.copyWithin(j + 1, j, i);
      sorted[j] = x;
    } else {
      sorted.copyWithin(i, i + 1, j);
      sorted[j - 1] = x;
    }
  }

  /** The first place whose value is not below x. */
  private lowerBound(x: number): number {
    const sorted = this.sorted;
    let base = 0;
    let len = this.held;
    // Branch-free halving: the step taken is masked by the comparison, not chosen by a branch
    // (a comparison of unrelated values mispredicts half the time; the mask keeps one chain).
    while (len > 1) {
      const half = len >> 1;
      base += half & -((sorted[base + half - 1] < x) as unknown as number);
      len -= half;
    }
    return len === 1 && sorted[base] < x ? base + 1 : base;
  }

  /** The first place whose value is above x. */
  private upperBound(x: number): number {
    const sorted = this.sorted;
    let base = 0;
    let len = this.held;
    while (len > 1) {
      const half = len >> 1;
      base += half & -((sorted[base + half - 1] <= x) as unknown as number);
      len -= half;
    }
    return len === 1 && sorted[base] <= x ? base + 1 : base;
  }
}
