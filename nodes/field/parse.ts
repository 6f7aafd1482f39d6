/** plantwire-parse: instrument frames (serial, TCP, files) to a batch of samples. */
import { choiceSetting } from '../shared/config';
import { ConfigError, InputError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { batchMessage, readTimestamp, type Sample } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { FRAME_FORMATS, FrameParser, type BinaryField, type DelimitedField } from './frame-parser';

interface ParseDef extends NodeDef {
  format: string;
  pattern: string;
  flags: string;
  delimiter: string;
  fields: unknown;
  encoding: string;
  onError: string;
}

function fieldList(raw: unknown): DelimitedField[] | BinaryField[] {
  if (raw === undefined || raw === null || raw === '') return [];
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      throw new ConfigError('fields must be a list of { name, index } or { name, offset, type, order, scale }');
    }
  }
  if (!Array.isArray(v)) throw new ConfigError('fields must be a list');
  return v as DelimitedField[] | BinaryField[];
}

export = function register(RED: NodeAPI): void {
  function ParseNode(this: Node, config: ParseDef): void {
    RED.nodes.createNode(this, config);
    // The running counts at most every 250 ms: a translated text and an editor message per frame
    // would cost more than parsing it at a fast instrument's rate.
    const status = new ThrottledStatus(new StatusReporter(this));
    let lastOk = true;
    const countsView = () => ({ health: bad > 0 && !lastOk ? ('busy' as const) : ('ok' as const), text: RED._('parse.status.counts', { good, bad }) });
    let parser: FrameParser;
    let onError: 'bad' | 'error';
    let good = 0;
    let bad = 0;
    try {
      onError = choiceSetting(config.onError, 'on error', ['bad', 'error'] as const, 'bad');
      parser = new FrameParser({
        format: choiceSetting(config.format, 'format', FRAME_FORMATS, 'regex'),
        pattern: config.pattern,
        flags: config.flags,
        delimiter: config.delimiter,
        fields: fieldList(config.fields),
        encoding: choiceSetting(config.encoding, 'encoding', ['utf8', 'latin1'] as const, 'utf8'),
      });
    } catch (err) {
      status.set('error', RED._('parse.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('stopped', RED._('parse.status.waiting'));
    this.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      done();
    });

    onInput(this, (msg, send, done) => {
      const m = msg as unknown as Record<string, unknown>;
      const frame = m.payload;
      const result = parser.parse(frame);
      const ts = readTimestamp(m.timestamp, Date.now);
      let samples: Sample[];
      if (result.ok) {
        good++;
        samples = result.values.map((v) => ({ tag: v.tag, value: v.value, quality: 'good' as const, ts, ...(v.unit ? { unit: v.unit } : {}) }));
        delete m.frame;
      } else {
        bad++;
        if (onError === 'error') {
          status.set('error', RED._('parse.status.counts', { good, bad }));
          const shown = Buffer.isBuffer(frame) ? frame.subarray(0, 24).toString('hex') : JSON.stringify(String(frame).slice(0, 60));
          throw new InputError(`malformed frame: ${result.reason}: ${shown}`);
        }
        // Every tag is reported bad with no value: a half-parsed frame never passes as good.
        samples = result.tags.map((tag) => ({ tag, value: null, quality: 'bad' as const, ts }));
        m.frame = frame;
        m.error = result.reason;
      }
      lastOk = result.ok;
      status.refresh(countsView);
      const out = batchMessage(samples);
      delete m.unit;
      delete m.units;
      if (result.ok) delete m.error;
      Object.assign(m, out);
      send(m as never);
      done();
    });
  }
  RED.nodes.registerType('plantwire-parse', ParseNode);
};
