/**
 * Exponential backoff with jitter. Jitter spreads the retries of many gateways that lost the same
 * device or broker at once, so they do not all reconnect in the same millisecond.
 */
export interface BackoffOptions {
  /** First delay, ms. */
  initial?: number;
  /** Largest delay, ms. */
  max?: number;
  factor?: number;
  /** Fraction of each delay that is random: 0 = none, 1 = anywhere in [0, delay]. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initial = Math.max(1, options.initial ?? 500);
    this.max = Math.max(this.initial, options.max ?? 30_000);
    this.factor = Math.max(1, options.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.random = options.random ?? Math.random;
  }

  /** Delay before the next attempt, ms; each call counts one failed attempt. */
  next(): number {
    const base = Math.min(this.max, this.initial * Math.pow(this.factor, this.attempt));
    this.attempt++;
    const spread = base * this.jitter;
    return Math.round(base - spread + this.random() * spread);
  }

  /** Attempts counted since the last success. */
  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
