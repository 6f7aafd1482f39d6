/**
 * Swinging-door trending (SDT) compression, as process historians archive data (E. H. Bristol,
 * "Swinging Door Trending: Adaptive Trend Recording?", ISA 1990; the compression of OSIsoft PI).
 *
 * From the last archived point A, each new point P opens two slopes: to P + deviation (upper door)
 * and to P - deviation (lower door). The doors only ever close: the upper slope is the smallest seen
 * since A, the lower slope the largest. While lower <= upper, a straight line from A passes within
 * `deviation` of every point since A, so none needs archiving; the newest one is held. When a point
 * makes lower > upper, the held point (the one before it) is archived, becomes the new A, and the
 * doors restart from it towards P. So archived points come out one point late, with their own
 * timestamps. The held point is archived early by `flush()` (heartbeat, quality change, msg.flush).
 * As in the classic algorithm, the line between two archived points is not itself one of the lines
 * the doors allowed, so a dropped point can lie up to 3 x deviation from it (deviation from the
 * allowed line, plus at most 2 x deviation between that line and the archived one); the tests check it.
 */
import type { Quality } from '../shared/sample';

export interface DoorPoint {
  v: number;
  ts: number;
  q: Quality;
}

export class SwingingDoor {
  private archived: DoorPoint | null = null;
  private held: DoorPoint | null = null;
  private upper = Infinity;
  private lower = -Infinity;

  constructor(private readonly deviation: number) {}

  /** The point not yet archived, if any. */
  get pending(): DoorPoint | null {
    return this.held;
  }

  /** The newest point seen (held or archived). */
  get latest(): DoorPoint | null {
    return this.held ?? this.archived;
  }

  /** Takes a point whose ts is after the previous one; returns the points to archive now. */
  push(p: DoorPoint): DoorPoint[] {
    const a = this.archived;
    if (!a) {
      this.archive(p);
      return [p];
    }
    const dt = p.ts - a.ts;
    const up = Math.min(this.upper, (p.v + this.deviation - a.v) / dt);
    const low = Math.max(this.lower, (p.v - this.deviation - a.v) / dt);
    if (low <= up || !this.held) {
      // Still inside the doors (always so for the first point after A: its own doors span 2 * deviation).
      this.upper = up;
      this.lower = low;
      this.held = p;
      return [];
    }
    const out = this.held;
    this.archive(out);
    const dt2 = p.ts - out.ts;
    this.upper = (p.v + this.deviation - out.v) / dt2;
    this.lower = (p.v - this.deviation - out.v) / dt2;
    this.held = p;
    return [out];
  }

  /** Archives the held point now (it becomes the new pivot); returns it, or nothing. */
  flush(): DoorPoint[] {
    const h = this.held;
    if (!h) return [];
    this.archive(h);
    return [h];
  }

  /** Archives `p` as the new pivot without a door test (first point, quality change). */
  archive(p: DoorPoint): void {
    this.archived = p;
    this.held = null;
    this.upper = Infinity;
    this.lower = -Infinity;
  }
}
