/**
 * Status updates at most every `minMs`, for nodes that may see thousands of messages a second:
 * every node.status() is a runtime event and a websocket message to each open editor, and a
 * translated text (RED._) costs 7 to 45 us here (45 with a `count`: i18next builds plural rules on
 * each call); at that rate either cost more than the statistics themselves (bench/analytics). The
 * first update shows at once and opens a period; updates within it wait, and the newest is shown when it ends
 * (and opens the next period). Errors and explicit states (reset, waiting) show at once.
 *
 * No clock is read per update (a clock read costs ~50 ns on these virtual machines, as much as a
 * statistic): whether a period is open is whether its timer is armed.
 */
import type { Health, StatusReporter } from './status';

/** A status worked out when it is shown: its health and its text. */
export type StatusView = () => { health: Health; text: string };

export class ThrottledStatus {
  private timer: ReturnType<typeof setTimeout> | undefined;
  // The update waiting for the period to end (two fields, not a tuple: no allocation per update).
  private pendingHealth: Health | undefined;
  private pendingText: (() => string) | undefined;
  private pendingView: StatusView | undefined;

  constructor(
    private readonly reporter: StatusReporter,
    private readonly minMs = 250,
  ) {}

  /** Shows a state at once (and drops any update waiting). */
  set(health: Health, text: string): void {
    this.pendingHealth = undefined;
    this.pendingText = undefined;
    this.pendingView = undefined;
    this.show(health, text);
  }

  /** Shows a running figure; `text` is only evaluated when it is shown. */
  update(health: Health, text: () => string): void {
    if (health === 'error' || !this.timer) {
      this.set(health, text());
      return;
    }
    this.pendingView = undefined;
    this.pendingHealth = health;
    this.pendingText = text;
  }

  /**
   * update() for a status whose health, too, costs something to work out (a list of active
   * alarms, a translated text): `view` runs only when the status is shown, at most once a period,
   * never per message. Pass a function made once, not a closure per message.
   */
  refresh(view: StatusView): void {
    if (!this.timer) {
      const v = view();
      this.set(v.health, v.text);
      return;
    }
    this.pendingHealth = undefined;
    this.pendingText = undefined;
    this.pendingView = view;
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    const view = this.pendingView;
    if (view) {
      const v = view();
      this.set(v.health, v.text);
      return;
    }
    const health = this.pendingHealth;
    const text = this.pendingText;
    // Nothing came in during the period: no new period (no timer while the node is idle).
    if (health === undefined || !text) return;
    this.set(health, text());
  };

  /** Stops the timer (node close). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingHealth = undefined;
    this.pendingText = undefined;
    this.pendingView = undefined;
  }

  private show(health: Health, text: string): void {
    this.reporter.set(health, text);
    this.timer ??= setTimeout(this.flush, this.minMs);
  }
}
