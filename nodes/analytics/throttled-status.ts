/**
 * Status updates at most every `minMs` for the analytics nodes, which may see thousands of samples
 * a second: every node.status() is a runtime event and a websocket message to each open editor, and
 * at that rate it cost more than the statistics themselves (bench/analytics). The newest text is
 * shown when the period ends; errors and explicit states (reset, waiting) show at once.
 */
import type { Health, StatusReporter } from '../shared/status';

export class ThrottledStatus {
  private last = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;
  // The update waiting for the period to end (two fields, not a tuple: no allocation per update).
  private pendingHealth: Health | undefined;
  private pendingText: (() => string) | undefined;

  constructor(
    private readonly reporter: StatusReporter,
    private readonly minMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /** Shows a state at once (and drops any update waiting). */
  set(health: Health, text: string): void {
    this.cancel();
    this.show(health, text);
  }

  /** Shows a running figure; `text` is only evaluated when it is shown. */
  update(health: Health, text: () => string): void {
    const t = this.now();
    if (health === 'error' || t - this.last >= this.minMs) {
      this.cancel();
      this.show(health, text());
      return;
    }
    this.pendingHealth = health;
    this.pendingText = text;
    if (!this.timer) this.timer = setTimeout(this.flush, this.minMs - (t - this.last));
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    const health = this.pendingHealth;
    const text = this.pendingText;
    this.pendingHealth = undefined;
    this.pendingText = undefined;
    if (health !== undefined && text) this.show(health, text());
  };

  /** Stops the timer (node close). */
  dispose(): void {
    this.cancel();
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingHealth = undefined;
    this.pendingText = undefined;
  }

  private show(health: Health, text: string): void {
    this.last = this.now();
    this.reporter.set(health, text);
  }
}
