/**
 * An in-process aedes broker on a free loopback port, that can be stopped and started again on
 * the same port (a broker outage), and a subscriber that records what reaches it.
 */
import * as net from 'net';
import { createBroker, type AedesPublishPacket } from 'aedes';
import * as mqtt from 'mqtt';

type Aedes = ReturnType<typeof createBroker>;

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  properties?: Record<string, unknown>;
}

export class TestBroker {
  port = 0;
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  /** Every publish the broker accepted from a client (not $SYS), in arrival order. */
  readonly published: Received[] = [];
  /** Credentials the broker accepts; when set, others are refused. */
  auth: { user: string; password: string } | undefined;
  readonly connects: Array<{ clientId: string; username?: string; password?: string }> = [];
  /** While true, the broker takes publishes in but neither routes nor acknowledges them (a stalled broker). */
  holdPublishes = false;
  private held: Array<() => void> = [];

  /** Ends holdPublishes: what was held is routed and acknowledged now. */
  releasePublishes(): void {
    this.holdPublishes = false;
    for (const go of this.held.splice(0)) go();
  }

  /**
   * Stops reading from one client's connection (a link that stalls: the client's writes pile up in
   * the kernel's buffers, then in its own), or reads again. aedes reads a connection with read()
   * when it is readable, so pausing the socket would not stop it: its client is paused instead.
   */
  stallReads(clientId: string, stalled: boolean): void {
    const clients = (this.aedes as unknown as { clients: Record<string, { pause(): void; resume(): void } | undefined> } | undefined)?.clients ?? {};
    const client = clients[clientId];
    if (!client) throw new Error(`no client ${clientId} on the test broker (${Object.keys(clients).join(', ')})`);
    if (stalled) client.pause();
    else client.resume();
  }

  async start(): Promise<void> {
    const aedes = createBroker();
    aedes.authenticate = (client, username, password, cb) => {
      this.connects.push({ clientId: client.id, username, password: password?.toString() });
      if (!this.auth) return cb(null, true);
      const ok = username === this.auth.user && password?.toString() === this.auth.password;
      cb(ok ? null : Object.assign(new Error('bad credentials'), { returnCode: 4 }) as never, ok);
    };
    aedes.authorizePublish = (_client, _packet, cb) => {
      if (this.holdPublishes) this.held.push(() => cb(null));
      else cb(null);
    };
    aedes.on('publish', (packet: AedesPublishPacket, client) => {
      if (!client) return;
      this.published.push({ topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, retain: packet.retain });
    });
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.aedes = aedes;
    this.server = server;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Stops the broker abruptly: every connection is cut, the port is closed. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}

/** A subscriber (mqtt.js) that records every message on `filter`. */
export async function subscriber(url: string, filter: string, protocolVersion: 4 | 5 = 4): Promise<{ client: mqtt.MqttClient; got: Received[] }> {
  const client = mqtt.connect(url, { protocolVersion, reconnectPeriod: 100, clientId: `sub_${Math.random().toString(16).slice(2)}` });
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    got.push({ topic, payload, qos: packet.qos, retain: packet.retain, properties: packet.properties as Record<string, unknown> | undefined });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { client, got };
}

export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
