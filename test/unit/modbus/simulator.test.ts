import * as net from 'net';
import ModbusRTU from 'modbus-serial';
import { ModbusSimulator, type SimWriteEvent } from '../../../nodes/modbus/simulator';
import { ConfigError } from '../../../nodes/shared/errors';

/** A raw MBAP request frame. */
function frame(tid: number, unit: number, pdu: number[]): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}

/** Sends bytes and collects answers until `frames` complete MBAP frames arrived. */
function exchange(port: number, chunks: Buffer[], frames: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const got: Buffer[] = [];
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
        const n = 6 + buf.readUInt16BE(4);
        got.push(buf.subarray(0, n));
        buf = buf.subarray(n);
      }
      if (got.length >= frames) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
    sock.on('connect', async () => {
      for (const c of chunks) {
        sock.write(c);
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

describe('ModbusSimulator', () => {
  let clock = 0;
  const sim = new ModbusSimulator({
    unitIds: [1, 2],
    tickMs: 0,
    now: () => clock,
    areaSize: { holding: 1000, input: 1000, coil: 1000, discrete: 1000 },
    signals: [
      { name: 'temp', area: 'holding', address: 0, type: 'float32', signal: 'constant', value: 21.5 },
      { name: 'count', area: 'input', address: 10, type: 'uint16', signal: 'counter', min: 0, max: 9, period: 1 },
      { name: 'wave', area: 'input', address: 20, type: 'int16', signal: 'square', min: -5, max: 5, period: 2 },
      { name: 'ramp', area: 'input', address: 21, type: 'float32', order: 'CDAB', signal: 'ramp', min: 0, max: 100, period: 10 },
      { name: 'sine', area: 'input', address: 23, type: 'float64', signal: 'sine', min: -1, max: 1, period: 4 },
      { name: 'run', area: 'coil', address: 3, type: 'bool', signal: 'constant', value: true },
      { name: 'door', area: 'discrete', address: 7, type: 'bool', signal: 'square', period: 2, unitId: 2 },
      { name: 'model', area: 'holding', address: 100, type: 'string', length: 4, signal: 'constant', value: 'PW-1' },
    ],
  });
  const client = new ModbusRTU();
  let port = 0;

  beforeAll(async () => {
    port = await sim.start();
    await client.connectTCP('127.0.0.1', { port });
    client.setTimeout(500);
  });
  afterAll(async () => {
    await new Promise<void>((r) => client.close(() => r()));
    await sim.stop();
  });

  it('reports the bound port', () => {
    expect(port).toBeGreaterThan(0);
    expect(sim.port).toBe(port);
  });

  it('FC3 reads holding registers encoded by the codec', async () => {
    client.setID(1);
    const r = await client.readHoldingRegisters(0, 2);
    expect(r.buffer.readFloatBE(0)).toBe(21.5);
    const s = await client.readHoldingRegisters(100, 4);
    expect(s.buffer.toString('latin1').replace(/\0+$/, '')).toBe('PW-1');
  });

  it('FC4 reads input registers; signals follow the injected clock', async () => {
    client.setID(1);
    clock = 0;
    sim.tick();
    let r = await client.readInputRegisters(10, 11);
    expect(r.data[0]).toBe(0); // counter
    expect(r.data[10]).toBe(5); // square, first half
    clock = 3500;
    sim.tick();
    r = await client.readInputRegisters(10, 11);
    expect(r.data[0]).toBe(3);
    expect(r.data[10]).toBe(65536 - 5);
    expect(sim.getValue('ramp')).toBeCloseTo(35, 3);
    expect(sim.getValue('sine')).toBeCloseTo(Math.sin((2 * Math.PI * 3.5) / 4), 9);
    clock = 12000;
    sim.tick();
    expect(sim.getValue('count')).toBe(2); // wrapped after 9
  });

  it('FC1 and FC2 read bits; a signal for one unit lives only in that unit', async () => {
    client.setID(1);
    const coils = await client.readCoils(0, 8);
    expect(coils.data.slice(0, 8)).toEqual([false, false, false, true, false, false, false, false]);
    clock = 0;
    sim.tick();
    client.setID(2);
    expect((await client.readDiscreteInputs(7, 1)).data[0]).toBe(true);
    client.setID(1);
    expect((await client.readDiscreteInputs(7, 1)).data[0]).toBe(false);
  });

  it('FC5, FC6, FC15, FC16 write and emit events; a written constant sticks', async () => {
    const events: SimWriteEvent[] = [];
    const on = (e: SimWriteEvent) => events.push(e);
    sim.on('write', on);
    client.setID(1);
    await client.writeCoil(3, false);
    await client.writeRegister(500, 0x1234);
    await client.writeCoils(10, [true, false, true]);
    const buf = Buffer.alloc(4);
    buf.writeFloatBE(-7.25);
    await client.writeRegisters(0, [buf.readUInt16BE(0), buf.readUInt16BE(2)]);
    sim.off('write', on);
    expect(events).toEqual([
      { unitId: 1, area: 'coil', address: 3, values: [false], tags: ['run'] },
      { unitId: 1, area: 'holding', address: 500, values: [0x1234], tags: [] },
      { unitId: 1, area: 'coil', address: 10, values: [true, false, true], tags: [] },
      { unitId: 1, area: 'holding', address: 0, values: [buf.readUInt16BE(0), buf.readUInt16BE(2)], tags: ['temp'] },
    ]);
    sim.tick();
    expect(sim.getValue('temp')).toBe(-7.25);
    expect(sim.getValue('run')).toBe(false);
    expect(sim.getRaw(1, 'coil', 10, 3)).toEqual([1, 0, 1]);
    expect(sim.getRaw(1, 'holding', 500, 1)).toEqual([0x1234]);
    expect(sim.getRaw(2, 'holding', 500, 1)).toEqual([0]);
  });

  it('answers exceptions 02 for addresses beyond the map', async () => {
    client.setID(1);
    await expect(client.readHoldingRegisters(999, 2)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(client.writeRegister(1000, 1)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(client.readCoils(995, 10)).rejects.toMatchObject({ modbusCode: 2 });
  });

  it('answers exception 01 for an unknown function and 03 for a bad quantity or value', async () => {
    const answers = await exchange(
      port,
      [
        frame(1, 1, [0x2b, 0x0e, 0x01, 0x00]), // FC43: not supported
        frame(2, 1, [0x03, 0, 0, 0, 126]), // 126 registers
        frame(3, 1, [0x05, 0, 1, 0x12, 0x34]), // FC5 value must be FF00 or 0000
        frame(4, 1, [0x10, 0, 0, 0, 2, 3, 0, 1, 0]), // byte count does not match
      ],
      4,
    );
    expect(answers.map((a) => [a.readUInt16BE(0), a[7], a[8]])).toEqual([
      [1, 0xab, 1],
      [2, 0x83, 3],
      [3, 0x85, 3],
      [4, 0x90, 3],
    ]);
  });

  it('answers every request of one chunk, and a frame split over chunks', async () => {
    const merged = Buffer.concat([1, 2, 3, 4, 5].map((tid) => frame(tid, 1, [0x03, 0, 0, 0, 2])));
    const answers = await exchange(port, [merged], 5);
    expect(answers.map((a) => a.readUInt16BE(0))).toEqual([1, 2, 3, 4, 5]);
    const one = frame(9, 2, [0x04, 0, 10, 0, 1]);
    const bytes = [...one].map((b) => Buffer.from([b]));
    const split = await exchange(port, [...bytes, Buffer.concat([frame(10, 1, [0x03, 0, 0, 0, 1]).subarray(0, 3)]), frame(10, 1, [0x03, 0, 0, 0, 1]).subarray(3)], 2);
    expect(split.map((a) => [a.readUInt16BE(0), a[6], a[7]])).toEqual([
      [9, 2, 4],
      [10, 1, 3],
    ]);
  });

  it('does not answer units it does not simulate', async () => {
    const before = sim.stats.unanswered;
    const answers = await exchange(port, [frame(1, 7, [0x03, 0, 0, 0, 1]), frame(2, 1, [0x03, 0, 0, 0, 1])], 1);
    expect(answers.map((a) => a.readUInt16BE(0))).toEqual([2]);
    expect(sim.stats.unanswered).toBe(before + 1);
  });

  it('drops a peer that does not speak Modbus TCP', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
      sock.on('close', () => resolve(true));
      sock.on('error', () => undefined);
    });
    expect(closed).toBe(true);
  });

  it('refuses signals that cannot work', () => {
    expect(() => new ModbusSimulator({ signals: [{ name: 'x', area: 'holding', address: 0, type: 'int16', signal: 'sine', min: 0, max: 70000 }] })).toThrow(/int16/);
    expect(() => new ModbusSimulator({ signals: [{ name: 'x', area: 'coil', address: 0, type: 'int16', signal: 'constant' }] })).toThrow(ConfigError);
    expect(() => new ModbusSimulator({ signals: [{ name: 'x', area: 'holding', address: 0, type: 'int16', signal: 'noise' as never }] })).toThrow(/kind/);
    expect(() => new ModbusSimulator({ unitIds: [1], signals: [{ name: 'x', area: 'holding', address: 0, type: 'int16', signal: 'constant', unitId: 3 }] })).toThrow(/unit 3/);
  });
});

describe('ModbusSimulator delays', () => {
  it('answers after delayMs and counts answers waiting at once', async () => {
    const sim = new ModbusSimulator({ delayMs: 30, tickMs: 0 });
    const port = await sim.start();
    const answers = await exchange(port, [Buffer.concat([1, 2, 3].map((t) => frame(t, 1, [0x03, 0, 0, 0, 1])))], 3);
    expect(answers).toHaveLength(3);
    expect(sim.stats.maxPending).toBe(3);
    expect(sim.stats.pending).toBe(0);
    await sim.stop();
  });

  it('starts again on the same port after stop', async () => {
    const sim = new ModbusSimulator({ tickMs: 0 });
    const port = await sim.start();
    await sim.stop();
    expect(await sim.start()).toBe(port);
    const answers = await exchange(port, [frame(1, 1, [0x03, 0, 0, 0, 1])], 1);
    expect(answers).toHaveLength(1);
    await sim.stop();
  });
});
