/**
 * plantwire-sparkplug-device: one Sparkplug B device of an edge node (DESIGN.md section 6).
 * Samples in (either form) -> DBIRTH from the first batch (or the editor's metric list), then DDATA
 * by exception; DCMD out as samples in the single form (topic = metric name, payload = value),
 * ready for plantwire-modbus-write. The protocol lives in sparkplug-session.ts.
 */
import { ConfigError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { samplesFromMessage, singleMessage, type SampleMessage } from '../shared/sample';
import { StatusReporter, type Health } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import type { EdgeView, SparkplugEdgeNode } from './sparkplug-edge-api';
import { readMetricList } from './sparkplug-metrics';
import type { EdgeDevice } from './sparkplug-session';

interface DeviceDef extends NodeDef {
  edge: string;
  deviceId: string;
  metrics?: unknown;
}

export = function register(RED: NodeAPI): void {
  function SparkplugDeviceNode(this: Node, config: DeviceDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    // State changes of the edge show at once; what a message changes (the metric count, the
    // backlog) at most every 250 ms: a translated text per message cost up to ~45 us.
    const status = new ThrottledStatus(new StatusReporter(this));
    const edge = (config.edge ? RED.nodes.getNode(config.edge) : null) as SparkplugEdgeNode | null;
    let device: EdgeDevice | undefined;
    let problem: string | undefined;
    let unwatch: (() => void) | undefined;
    let wasOnline = false;

    const view = (): { health: Health; text: string } => {
      if (problem || !edge || !device) return { health: 'error', text: problem ?? RED._('sparkplug-device.status.config') };
      const v: EdgeView = edge.view();
      const count = device.metricCount;
      switch (v.state) {
        case 'online':
          wasOnline = true;
          if (v.backedUp) return { health: 'busy', text: RED._('sparkplug-device.status.stalled', { count: v.buffered }) };
          return { health: 'ok', text: RED._('sparkplug-device.status.online', { count }) };
        case 'waiting-host':
          return { health: 'busy', text: RED._('sparkplug-device.status.waiting-host', { count: v.buffered }) };
        case 'connecting':
          return { health: 'busy', text: RED._('sparkplug-device.status.connecting', { count: v.buffered }) };
        case 'error':
          return { health: 'error', text: v.lastError ?? RED._('sparkplug-device.status.config') };
        default:
          // Before the first connection the edge is still connecting (yellow ring); after it, a
          // lost connection is a failure (red ring) while data buffers.
          if (!wasOnline) return { health: 'busy', text: RED._('sparkplug-device.status.connecting', { count: v.buffered }) };
          return { health: 'error', text: RED._('sparkplug-device.status.offline', { count: v.buffered }) };
      }
    };
    /** Shows the state now (a state change of the edge, the node's start). */
    const refresh = () => {
      if (!problem && (!edge || !device)) return;
      const v = view();
      status.set(v.health, v.text);
    };

    try {
      if (!edge) throw new ConfigError('no Sparkplug edge node is configured: choose or add a plantwire-sparkplug-edge');
      if (edge.problem) throw new ConfigError(`edge node settings are invalid: ${edge.problem}`);
      const metrics = readMetricList(config.metrics);
      device = edge.addDevice(node, String(config.deviceId ?? '').trim(), {
        metrics,
        onCommand: (samples) => {
          // DCMD -> one message per metric, single form, all on the one output.
          node.send([samples.map((s) => singleMessage(s) as unknown as NodeMessage)]);
        },
      });
      unwatch = edge.watch(refresh);
      refresh();
    } catch (err) {
      problem = errorMessage(err);
      status.set('error', RED._('sparkplug-device.status.config'));
      node.error(problem);
    }

    onInput(this, (msg, _send, done) => {
      if (!device) throw new ConfigError(problem ?? 'device is not configured');
      const samples = samplesFromMessage(msg as unknown as SampleMessage, { defaultTag: config.deviceId || 'value' });
      const result = device.update(samples);
      status.refresh(view);
      if (result.sent && result.outcome === 'buffered') {
        // Offline: acknowledged to the flow once the record is durable in the buffer.
        result.sent.then(
          () => done(),
          (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
        );
      } else if (result.sent) {
        // A failed publish is reported by the edge node (the session then goes offline and what
        // follows is buffered); the message itself was accepted.
        result.sent.then(
          () => done(),
          () => done(),
        );
      } else done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      if (unwatch) unwatch();
      if (edge && device) edge.removeDevice(node, device, done);
      else done();
    });
  }

  RED.nodes.registerType('plantwire-sparkplug-device', SparkplugDeviceNode);
};
