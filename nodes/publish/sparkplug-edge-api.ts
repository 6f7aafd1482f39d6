/**
 * What a plantwire-sparkplug-edge config node offers its device nodes (type-only module).
 *
 *   const edge = RED.nodes.getNode(config.edge) as SparkplugEdgeNode | null;
 *   const device = edge.addDevice(node, deviceId, { metrics, onCommand });  // opens the client
 *   const stop = edge.watch(() => refreshStatus(edge.view()));
 *   node.on('close', (removed, done) => { stop(); edge.removeDevice(node, device, done); }); // DDEATH
 */
import type { Node } from '../shared/red';
import type { DeviceOptions, EdgeDevice, SessionState } from './sparkplug-session';

/** What the device nodes see of their edge node. */
export interface SparkplugEdgeApi {
  /** Set when the settings cannot work; devices show it and refuse input. */
  readonly problem: string | undefined;
  /** Registers a device node and its device; the first one opens the MQTT client. */
  addDevice(user: Node, deviceId: string, options: DeviceOptions): EdgeDevice;
  /** DDEATH for the device, then unregisters the node; `done` when finished. */
  removeDevice(user: Node, device: EdgeDevice, done: () => void): void;
  /** Calls `listener` on every change of connection state or buffer; returns the remover. */
  watch(listener: () => void): () => void;
  view(): EdgeView;
}

export interface EdgeView {
  state: SessionState | 'connecting' | 'error';
  buffered: number;
  lastError: string | undefined;
  /** Online, but the link is not taking data: live values go to the buffer (see MAX_UNSENT_PUBLISHES). */
  backedUp: boolean;
}

export type SparkplugEdgeNode = Node & SparkplugEdgeApi;
