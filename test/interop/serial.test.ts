/**
 * node-red-node-serialport's serial in node reading a socat pseudo-terminal pair, into
 * plantwire-parse: a weighing indicator's frames end to end. Needs /usr/bin/socat (Debian
 * package socat). Also checks that the serial port list endpoint answers when udevadm is missing.
 */
import { spawn, type ChildProcess } from 'child_process';
import fs = require('fs');
import os = require('os');
import path = require('path');
import { helper, load, sleep, startServer, stop, type Msg, type TestNode } from '../helpers/red';
import parseNode = require('../../nodes/field/parse');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const serialNodes = require('node-red-node-serialport/25-serial.js') as (red: unknown) => void;

const SOCAT = '/usr/bin/socat';
const PATTERN = '^(?<status>ST|US),(?<mode>GS|NT),(?<weight>[-+]?\\d+(?:\\.\\d+)?)\\s*(?<weight_unit>[a-z]+)$';

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('serial frames over a socat pty pair into plantwire-parse', () => {
  let socat: ChildProcess | undefined;
  let dir: string;
  let a: string;
  let b: string;

  beforeAll(async () => {
    if (!fs.existsSync(SOCAT)) throw new Error('socat is required for this suite: apt-get install socat');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-serial-'));
    a = path.join(dir, 'indicator');
    b = path.join(dir, 'gateway');
    socat = spawn(SOCAT, ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
    await waitFor(() => fs.existsSync(a) && fs.existsSync(b), 5000, 'socat to create the pty pair');
  });

  afterAll(async () => {
    if (socat && socat.exitCode === null) {
      const gone = new Promise((r) => socat?.once('exit', r));
      socat.kill('SIGTERM');
      await gone;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(startServer);
  afterEach(stop);

  it('parses weighing-indicator frames read by the serial in node', async () => {
    await load(
      [serialNodes, parseNode],
      [
        {
          id: 'port', type: 'serial-port', serialport: b, serialbaud: '9600', databits: '8', parity: 'none', stopbits: '1',
          waitfor: '', dtr: 'none', rts: 'none', cts: 'none', dsr: 'none', newline: '\\n', bin: 'false', out: 'char', addchar: '', responsetimeout: '10000',
        },
        { id: 'in', type: 'serial in', serial: 'port', wires: [['parse']] },
        { id: 'parse', type: 'plantwire-parse', format: 'regex', pattern: PATTERN, onError: 'bad', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ],
    );
    const serialIn: TestNode = helper.getNode('in');
    await waitFor(() => serialIn.status.args.some((c: [{ text?: string }]) => /connected/.test(String(c[0]?.text))), 10000, 'the serial in node to open the port');

    const got: Msg[] = [];
    helper.getNode('out').on('input', (m: Msg) => got.push(m));
    const frames = ['ST,GS,+0012.34 kg\r\n', 'US,GS,+0012.36 kg\r\n', 'ST,GS,+00##.34 kg\r\n', 'ST,NT,-0001.05 kg\r\n'];
    const framesFile = path.join(dir, 'frames.json');
    fs.writeFileSync(framesFile, JSON.stringify(frames));
    const writer = spawn(process.execPath, [path.join(__dirname, 'serial', 'weigh-indicator.js'), a, framesFile, '40'], { stdio: 'inherit' });
    const code = await new Promise<number | null>((r) => writer.once('exit', r));
    expect(code).toBe(0);
    await waitFor(() => got.length >= frames.length, 10000, `${frames.length} parsed frames (got ${got.length})`);

    expect(got.map((m) => m.payload.weight)).toEqual([12.34, 12.36, null, -1.05]);
    expect(got.map((m) => m.quality.weight)).toEqual(['good', 'good', 'bad', 'good']);
    expect(got.map((m) => m.payload.status)).toEqual(['ST', 'US', null, 'ST']);
    expect(got[0].units).toEqual({ weight: 'kg' });
    expect(got[2].frame).toBe('ST,GS,+00##.34 kg\r\n'); // the raw frame travels with a bad batch
    expect(got[0].port).toBe(b); // the serial node's properties pass through
  });

  it('the serial port list endpoint of a running Node-RED answers JSON when udevadm is missing (serialport issue #2185)', async () => {
    // A child Node-RED, because the port list spawns `udevadm` through the real process PATH,
    // which a jest test cannot change for the code it runs in-process.
    const userDir = fs.mkdtempSync(path.join(dir, 'nr-'));
    const noUdevadm = fs.mkdtempSync(path.join(dir, 'bin-'));
    const settingsFile = path.join(userDir, 'settings.js');
    const serialDir = path.dirname(require.resolve('node-red-node-serialport/25-serial.js'));
    fs.writeFileSync(
      settingsFile,
      `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', userDir, nodesDir: [serialDir], flowFile: 'flows.json', credentialSecret: false, logging: { console: { level: 'info' } } })};`,
    );
    const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--port', '0', '--settings', settingsFile, '--userDir', userDir], {
      env: { HOME: userDir, PATH: noUdevadm },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    red.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    red.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitFor(() => /Server now running at (http:\/\/\S+)/.test(log) || red.exitCode !== null, 60000, 'Node-RED to start');
      const base = (/Server now running at (http:\/\/\S+?)\/?\s/.exec(log) ?? [])[1];
      expect(base).toBeDefined();
      expect(log).toMatch(/serial/); // node-red-node-serialport loaded
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${base}/serialports`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/json/);
        // Without udevadm the list fails, and the node answers with its "enter it manually" text.
        expect(await res.json()).toEqual([expect.stringMatching(/failed to list ports/i)]);
      }
      await sleep(300); // a late spawn error that crashed the process would show now
      expect(red.exitCode).toBeNull();
      expect(log).not.toMatch(/Uncaught Exception/);
    } finally {
      if (red.exitCode === null) {
        const gone = new Promise((r) => red.once('exit', r));
        red.kill('SIGTERM');
        await gone;
      }
    }
  });
});
