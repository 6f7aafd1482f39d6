/**
 * Real peers for the Modbus interop suites: Debian's pymodbus (test/interop/pymodbus/server.py,
 * run by /usr/bin/python3, not the pyenv python on PATH), socat pseudo-terminal pairs and mbpoll.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, startProcess, type ProcessHandle } from './procs';

export const PYTHON = '/usr/bin/python3';
export const PYMODBUS_SERVER = path.resolve(__dirname, '../pymodbus/server.py');

/** One typed value in the peer's register map; `raw` is stored before Plantwire's scale/offset. */
export interface PeerValue {
  unit?: number;
  area: 'holding' | 'input' | 'coil' | 'discrete';
  address: number;
  type: string;
  order?: string;
  bit?: number;
  length?: number;
  raw: number | boolean | string;
}

export interface PeerMap {
  units: number[];
  values: PeerValue[];
}

export interface PymodbusPeer {
  proc: ProcessHandle;
  port?: number;
  device?: string;
  mapFile: string;
  /** Lines `WRITE unit=.. area=.. address=.. values=[..]` the peer printed, parsed. */
  writes(): { unit: number; area: string; address: number; values: number[] }[];
  stop(): Promise<void>;
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts the pymodbus peer on TCP (127.0.0.1:port, a free one unless given) or on a serial device. */
export async function startPymodbus(map: PeerMap, where: { tcpPort?: number; rtuDevice?: string; baud?: number } = {}): Promise<PymodbusPeer> {
  const dir = tempDir('plantwire-pymodbus-');
  const mapFile = path.join(dir, 'map.json');
  fs.writeFileSync(mapFile, JSON.stringify(map));
  const port = where.rtuDevice ? undefined : (where.tcpPort ?? (await freePort()));
  const args = [PYMODBUS_SERVER, '--map', mapFile];
  if (where.rtuDevice) args.push('--rtu', where.rtuDevice, '--baud', String(where.baud ?? 19200));
  else args.push('--tcp', String(port));
  const proc = startProcess(PYTHON, args, { name: 'pymodbus' });
  await proc.waitFor(/READY/, 60000);
  return {
    proc,
    port,
    device: where.rtuDevice,
    mapFile,
    writes() {
      const out: { unit: number; area: string; address: number; values: number[] }[] = [];
      for (const m of proc.output.matchAll(/WRITE unit=(\d+) area=(\w+) address=(\d+) values=\[([^\]]*)\]/g)) {
        out.push({ unit: Number(m[1]), area: m[2], address: Number(m[3]), values: m[4].split(',').filter((s) => s.trim() !== '').map(Number) });
      }
      return out;
    },
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A socat pseudo-terminal pair: bytes written to `a` come out of `b` and back. */
export async function ptyPair(): Promise<{ a: string; b: string; proc: ProcessHandle; stop(): Promise<void> }> {
  const dir = tempDir('plantwire-pty-');
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const proc = startProcess('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { name: 'socat' });
  await proc.waitFor(/starting data transfer loop/, 20000);
  return {
    a,
    b,
    proc,
    stop: async () => {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs mbpoll once; resolves with its stdout (rejects with its output when it exits non-zero). */
export function mbpoll(args: string[], timeoutMs = 20000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('mbpoll', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`mbpoll ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The values mbpoll printed as `[ref]: value` lines, by 1-based reference. */
export function mbpollValues(out: string): Map<number, string> {
  const values = new Map<number, string>();
  for (const m of out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) values.set(Number(m[1]), m[2]);
  return values;
}

/**
 * A Mosquitto broker of the suite's own on a free loopback port (not the machine's 1883), with
 * `max_queued_messages` raised so that a slow subscriber loses nothing to the broker's default
 * limit of 1000. Extra config lines may be given (TLS listeners, ACLs).
 */
export async function startMosquitto(extraConfig: string[] = []): Promise<{ port: number; url: string; proc: ProcessHandle; stop(): Promise<void> }> {
  const dir = tempDir('plantwire-mosquitto-');
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 100000', 'log_dest stdout', ...extraConfig, ''].join('\n'),
  );
  const proc = startProcess('mosquitto', ['-c', conf], { name: 'mosquitto' });
  await proc.waitFor(/running|Opening ipv4 listen socket/, 20000);
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    proc,
    stop: async () => {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
