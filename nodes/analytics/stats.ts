/** plantwire-stats: windowed statistics per tag (sliding or tumbling, count or time windows). */
import { ConfigError, errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import { completionWatch } from '../shared/completion';
import { onSyncInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { anyNotGood, handleSamples, resultMessages, shortNumber, tickMs, type Result, type SampleInput, type SendResults } from './sample-output';
import { DEFAULT_STATS, STAT_NAMES, StatsEngine, type StatName, type StatsResult, type StatsSample } from './window';

interface StatsDef extends NodeDef {
  window: string;
  size: string;
  emit: string;
  stats: string[] | string;
}

function statsSetting(raw: unknown): readonly StatName[] {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_STATS;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((x) => x.trim()).filter(Boolean) : null;
  if (!list) throw new ConfigError('stats must be a list of statistics');
  for (const s of list) {
    if (!(STAT_NAMES as readonly unknown[]).includes(s)) throw new ConfigError(`unknown statistic "${String(s)}"; use ${STAT_NAMES.join(', ')}`);
  }
  return list as StatName[];
}

export = function register(RED: NodeAPI): void {
  function StatsNode(this: Node, config: StatsDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: StatsEngine;
    let stats: readonly StatName[];
    try {
      const window = choiceSetting(config.window, 'window', ['count', 'time'] as const, 'count');
      stats = statsSetting(config.stats);
      engine = new StatsEngine({
        window,
        size: numberSetting(config.size, 'size', window === 'count' ? 10 : 60),
        emit: choiceSetting(config.emit, 'emit', ['sample', 'window'] as const, 'sample'),
        stats,
      });
    } catch (err) {
      status.set('error', RED._('stats.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('stopped', RED._('stats.status.waiting'));
    const readOptions = { defaultTag: config.name || 'value' };
    let lastBatch = false;

    // The figures of the newest results, read by one status text function (the throttled status
    // evaluates it only when it shows it): no closure per message.
    let shownFigures: StatsResult | undefined;
    let shownCount = 0;
    let shownBatch = false;
    // Late readings the status has counted (tumbling time windows drop readings for a window
    // already sent, as the resample node drops late samples, and show the count the same way).
    let shownLate = 0;
    const first = stats[0];
    const late = (): string => (engine.late ? ` ${RED._('stats.status.late', { count: engine.late })}` : '');
    const statusText = (): string =>
      (shownBatch ? RED._('stats.status.batch', { count: shownCount }) : `${first} ${shortNumber(shownFigures![first])}`) + late();
    const openText = (): string => RED._('stats.status.open') + late();
    const showLast = (last: StatsSample, count: number, batch: boolean, notGood: boolean): void => {
      shownFigures = last.value;
      shownCount = count;
      shownBatch = batch;
      shownLate = engine.late;
      status.update(notGood || shownLate > 0 ? 'busy' : 'ok', statusText);
    };
    const showLate = (): void => {
      shownLate = engine.late;
      status.update('busy', shownFigures ? statusText : openText);
    };
    const show = (out: readonly StatsSample[], batch: boolean): void => {
      if (out.length > 0) showLast(out[out.length - 1], out.length, batch, anyNotGood(out));
      else if (engine.late !== shownLate) showLate();
    };

    // Tumbling time windows of quiet tags close by this timer (event time estimated per tag).
    const size = Number(config.size) || 60;
    const timer =
      config.window === 'time' && config.emit === 'window'
        ? setInterval(() => {
            const out = engine.closeDue(Date.now());
            if (!out.length) return;
            show(out, lastBatch);
            node.send([resultMessages(out as Result[], lastBatch) as NodeMessage[]]);
          }, tickMs(size * 1000))
        : undefined;

    this.on('close', (_removed: boolean, done: () => void) => {
      if (timer) clearInterval(timer);
      status.dispose();
      done();
    });

    const input: SampleInput<Result> = {
      read: readOptions,
      reset: (tag) => {
        engine.reset(tag);
        status.set('stopped', RED._('stats.status.reset'));
      },
      push: (samples, batch) => {
        // The arrival time only matters to the timer that closes quiet time windows.
        const out = engine.push(samples, timer ? Date.now() : 0);
        lastBatch = batch;
        show(out, batch);
        return out as Result[];
      },
      pushOne: (tag, value, quality, ts, unit) => {
        const r = engine.pushOne(tag, value, quality, ts, unit, timer ? Date.now() : 0);
        lastBatch = false;
        if (r !== undefined) showLast(r, 1, false, r.quality !== 'good');
        else if (engine.late !== shownLate) showLate();
        return r as Result | undefined;
      },
      rejected: () => status.set('error', RED._('stats.status.rejected')),
      clone: (x) => RED.util.cloneMessage(x as NodeMessage) as SampleMessage,
    };
    onSyncInput(this, (msg, send) => handleSamples(msg as unknown as SampleMessage, send as SendResults, input), completionWatch(RED, this));
  }
  RED.nodes.registerType('plantwire-stats', StatsNode);
};
