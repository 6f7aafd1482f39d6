/** scripts/embedded-broker.js: the demo's MQTT broker that `npm start` runs before Node-RED. */
import * as net from 'net';
import * as os from 'os';
import * as mqtt from 'mqtt';

interface EmbeddedBroker {
  port: number;
  close(): Promise<void>;
}
/* eslint-disable @typescript-eslint/no-require-imports */
const { startEmbeddedBroker, brokerPort } = require('../../scripts/embedded-broker.js') as {
  startEmbeddedBroker(o: { port: number; host?: string; log?: (line: string) => void }): Promise<EmbeddedBroker | null>;
  brokerPort(env: Record<string, string | undefined>): number;
};
/* eslint-enable @typescript-eslint/no-require-imports */

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('brokerPort (PLANTWIRE_BROKER_PORT)', () => {
  it('is 1884 when unset or empty, 0 for none, the number given otherwise', () => {
    expect(brokerPort({})).toBe(1884);
    expect(brokerPort({ PLANTWIRE_BROKER_PORT: ' ' })).toBe(1884);
    expect(brokerPort({ PLANTWIRE_BROKER_PORT: '0' })).toBe(0);
    expect(brokerPort({ PLANTWIRE_BROKER_PORT: '18884' })).toBe(18884);
  });

  it.each(['abc', '-1', '65536', '1.5', 'NaN', 'Infinity', '1e9'])('refuses %p with a message that names the variable', (raw) => {
    expect(() => brokerPort({ PLANTWIRE_BROKER_PORT: raw })).toThrow(new RegExp(`PLANTWIRE_BROKER_PORT .*"${raw}"`));
  });
});

describe('startEmbeddedBroker', () => {
  it('serves MQTT on loopback: a subscriber gets what a publisher sends; close frees the port and ends clients', async () => {
    const lines: string[] = [];
    const broker = await startEmbeddedBroker({ port: 0, log: (l) => lines.push(l) });
    expect(broker).not.toBeNull();
    const { port } = broker as EmbeddedBroker;
    expect(lines).toEqual([`Embedded MQTT broker (demo only): mqtt://127.0.0.1:${port}`]);
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await sub.subscribeAsync('plant/#', { qos: 1 });
    const got = new Promise<[string, string]>((resolve) => sub.once('message', (t, p) => resolve([t, p.toString()])));
    await pub.publishAsync('plant/line1/press/pressure', '{"value":4.2}', { qos: 1 });
    expect(await got).toEqual(['plant/line1/press/pressure', '{"value":4.2}']);
    const subClosed = new Promise<void>((resolve) => sub.once('close', () => resolve()));
    await (broker as EmbeddedBroker).close();
    await subClosed;
    expect(await listening(port)).toBe(false);
    await Promise.all([sub.endAsync(true), pub.endAsync(true)]);
    // close twice is harmless (SIGINT and the child's exit may both ask)
    await expect((broker as EmbeddedBroker).close()).resolves.toBeUndefined();
  });

  it('goes on without a broker, saying so in one line, when the port is taken', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      const lines: string[] = [];
      await expect(startEmbeddedBroker({ port, log: (l) => lines.push(l) })).resolves.toBeNull();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`127.0.0.1:${port} is in use`);
      expect(lines[0]).toContain('PLANTWIRE_BROKER_PORT');
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it('listens on loopback only', async () => {
    const broker = (await startEmbeddedBroker({ port: 0, log: () => undefined })) as EmbeddedBroker;
    try {
      const other = Object.values(os.networkInterfaces())
        .flat()
        .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
      if (other) {
        const reached = await new Promise<boolean>((resolve) => {
          const s = net.connect(broker.port, other.address);
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
        expect(reached).toBe(false);
      }
      expect(await listening(broker.port)).toBe(true);
    } finally {
      await broker.close();
    }
  });
});
