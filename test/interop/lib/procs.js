// Shared helpers for the suites and scripts that run real peers (interop, e2e, pack, bench):
// free loopback ports, child processes whose output is kept and can be awaited, and a stop that
// always reaps the child. Plain JavaScript so that shell-driven scripts and jest suites share it.
'use strict';
const net = require('net');
const { spawn } = require('child_process');

/** A TCP port that was free on 127.0.0.1 a moment ago (the kernel picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port; rejects after timeoutMs. */
function waitForPort(port, host = '127.0.0.1', timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect({ port, host });
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Starts a child process and keeps its output. `waitFor(re)` resolves with the first match in
 * stdout+stderr (already printed or still to come); `stop()` sends SIGTERM, then SIGKILL after
 * killAfterMs, and resolves when the child has exited. The child is put in its own process group
 * so that stop() also ends whatever it started.
 */
function startProcess(command, args, options = {}) {
  const { env, cwd, name = command, echo = !!process.env.PLANTWIRE_ECHO, killAfterMs = 5000 } = options;
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  let exited = null;
  const waiters = new Set();
  const onData = (chunk) => {
    const text = chunk.toString();
    output += text;
    if (output.length > 4_000_000) output = output.slice(-2_000_000);
    if (echo) process.stderr.write(`[${name}] ${text}`);
    for (const w of [...waiters]) w.check();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      for (const w of [...waiters]) w.check();
      resolve(exited);
    });
    child.on('error', (err) => {
      output += `\n[spawn error] ${err.message}\n`;
      exited = { code: -1, signal: null };
      for (const w of [...waiters]) w.check();
      resolve(exited);
    });
  });
  const handle = {
    child,
    name,
    get pid() { return child.pid; },
    get output() { return output; },
    get exited() { return exited; },
    exit: exitPromise,
    /** Resolves with the match of `re` in the output from `from` (a character offset) on. */
    waitFor(re, timeoutMs = 30000, from = 0) {
      return new Promise((resolve, reject) => {
        const w = {
          check() {
            const m = re.exec(output.slice(from));
            if (m) { done(); resolve(m); }
            else if (exited) { done(); reject(new Error(`${name} exited (${JSON.stringify(exited)}) before printing ${re}:\n${output.slice(-3000)}`)); }
          },
        };
        const timer = setTimeout(() => { done(); reject(new Error(`${name}: no ${re} after ${timeoutMs} ms:\n${output.slice(-3000)}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(w); };
        waiters.add(w);
        w.check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (exited) return exited;
      const kill = (sig) => { try { process.kill(-child.pid, sig); } catch { try { child.kill(sig); } catch { /* gone */ } } };
      kill(signal);
      const timer = setTimeout(() => kill('SIGKILL'), killAfterMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
  };
  return handle;
}

/** A small HTTP client for the Node-RED admin API: resolves { status, headers, body } (body parsed when JSON). */
function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  const http = require('http');
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(url, { method, headers: { ...(data !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let parsed = raw.toString();
        if (/json/.test(res.headers['content-type'] || '')) {
          try { parsed = JSON.parse(parsed); } catch { /* leave as text */ }
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, raw });
      });
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { freePort, waitForPort, startProcess, httpRequest, sleep };
