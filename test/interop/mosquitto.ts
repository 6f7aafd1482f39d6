/**
 * A private Mosquitto for the MQTT interop suites: /usr/sbin/mosquitto with a generated config on
 * free loopback ports (never the shared :1883), persistence in a temp folder so it can be stopped
 * and started again with its sessions, optionally a TLS listener with a CA and server certificate
 * made by openssl here.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, startProcess, waitForPort, type ProcessHandle } from './lib/procs';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Certs {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, signed by it. */
export function makeCerts(dir: string): Certs {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Plantwire Test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.crt'));
  return { dir, caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key'), ca: fs.readFileSync(f('ca.crt'), 'utf8') };
}

export interface Mosquitto {
  port: number;
  tlsPort?: number;
  wsPort?: number;
  /** WebSockets over TLS (with `certs` and `websockets`). */
  wssPort?: number;
  dir: string;
  proc: ProcessHandle;
  url: string;
  tlsUrl?: string;
  wsUrl?: string;
  wssUrl?: string;
  /** Stops it (SIGTERM: Mosquitto writes its persistence file on the way out). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and with the same persistence. */
  restart(): Promise<void>;
  /** Stops it and removes its folder (config, persistence). */
  dispose(): Promise<void>;
}

export async function startMosquitto(options: { certs?: Certs; websockets?: boolean } = {}): Promise<Mosquitto> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-mosquitto-'));
  const port = await freePort();
  const tlsPort = options.certs ? await freePort() : undefined;
  const wsPort = options.websockets ? await freePort() : undefined;
  const wssPort = options.websockets && options.certs ? await freePort() : undefined;
  const lines = [
    'per_listener_settings false',
    'allow_anonymous true',
    // Enough room for every message a persistent subscriber misses during an outage.
    'max_queued_messages 100000',
    'max_inflight_messages 100',
    'persistence true',
    `persistence_location ${dir}/`,
    'autosave_interval 1',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_type notice',
    `listener ${port} 127.0.0.1`,
  ];
  if (process.getuid?.() === 0) lines.unshift('user root'); // else it drops to "mosquitto", which cannot read the temp dir
  if (options.certs && tlsPort) {
    lines.push(`listener ${tlsPort} 127.0.0.1`, `cafile ${options.certs.caFile}`, `certfile ${options.certs.certFile}`, `keyfile ${options.certs.keyFile}`);
  }
  if (wsPort) lines.push(`listener ${wsPort} 127.0.0.1`, 'protocol websockets');
  if (options.certs && wssPort) {
    lines.push(`listener ${wssPort} 127.0.0.1`, 'protocol websockets', `cafile ${options.certs.caFile}`, `certfile ${options.certs.certFile}`, `keyfile ${options.certs.keyFile}`);
  }
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const m: Mosquitto = {
    port,
    tlsPort,
    dir,
    url: `mqtt://127.0.0.1:${port}`,
    tlsUrl: tlsPort ? `mqtts://127.0.0.1:${tlsPort}` : undefined,
    wsPort,
    wsUrl: wsPort ? `ws://127.0.0.1:${wsPort}/mqtt` : undefined,
    wssPort,
    wssUrl: wssPort ? `wss://127.0.0.1:${wssPort}/mqtt` : undefined,
    proc: undefined as unknown as ProcessHandle,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      await m.proc.stop(signal);
    },
    async dispose() {
      await m.proc.stop('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      m.proc = startProcess(MOSQUITTO, ['-c', conf], { name: 'mosquitto' });
      await waitForPort(port);
      if (tlsPort) await waitForPort(tlsPort);
      if (wsPort) await waitForPort(wsPort);
      if (wssPort) await waitForPort(wssPort);
    },
  };
  await m.restart();
  return m;
}
