#!/usr/bin/env node
// The demo plant's MQTT broker: an in-process aedes broker on loopback, so that `npm start` shows
// publishing (and the round trip back through a subscriber) with no broker of the user's own.
// aedes is a devDependency: a user who installed the palette from npm has their own broker.
//
// Run alone: `node scripts/embedded-broker.js [port]` (default 1884, or PLANTWIRE_BROKER_PORT).
'use strict';
const net = require('net');

const DEFAULT_PORT = 1884;
const HOST = '127.0.0.1';

/**
 * The port asked for: PLANTWIRE_BROKER_PORT (0 = no broker), else 1884. Anything that is not a
 * whole number from 0 to 65535 is refused with a clear error rather than guessed at.
 */
function brokerPort(env = process.env) {
  const raw = env.PLANTWIRE_BROKER_PORT;
  if (raw === undefined || String(raw).trim() === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PLANTWIRE_BROKER_PORT must be a port number from 1 to 65535, or 0 for no broker (got "${raw}")`);
  }
  return port;
}

/**
 * Starts the broker on HOST:port. Resolves with `{ port, close() }`, or with null when the port is
 * taken (another broker, or a second `npm start`): the demo then runs without it and its MQTT nodes
 * show disconnected. `log` receives one line for each of those outcomes.
 */
async function startEmbeddedBroker({ port = DEFAULT_PORT, host = HOST, log = console.log } = {}) {
  let Aedes;
  try {
    // eslint-disable-next-line global-require
    Aedes = require('aedes');
  } catch {
    log('Embedded MQTT broker: aedes is not installed (it is a devDependency: run npm install). The demo runs without a broker.');
    return null;
  }
  const aedes = Aedes();
  const server = net.createServer(aedes.handle);
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise((resolve) => aedes.close(resolve));
    const why = err && err.code === 'EADDRINUSE' ? 'is in use' : `cannot be opened (${err && err.message})`;
    log(`Embedded MQTT broker: ${host}:${port} ${why}; the demo runs without it (its MQTT nodes show disconnected). Set PLANTWIRE_BROKER_PORT to another port, or 0 for none.`);
    return null;
  }
  const bound = server.address().port;
  log(`Embedded MQTT broker (demo only): mqtt://${host}:${bound}`);
  let closing;
  return {
    port: bound,
    close() {
      closing ??= new Promise((resolve) => {
        // Clients (Node-RED's MQTT nodes) keep their sockets open; end them so the server can close.
        for (const s of sockets) s.destroy();
        server.close(() => aedes.close(() => resolve()));
      });
      return closing;
    },
  };
}

module.exports = { startEmbeddedBroker, brokerPort, DEFAULT_PORT };

if (require.main === module) {
  let port;
  try {
    port = process.argv[2] !== undefined ? brokerPort({ PLANTWIRE_BROKER_PORT: process.argv[2] }) : brokerPort();
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  if (port === 0) {
    console.log('Embedded MQTT broker: off (PLANTWIRE_BROKER_PORT=0).');
  } else {
    startEmbeddedBroker({ port }).then((broker) => {
      if (!broker) process.exit(1);
      const stop = () => broker.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  }
}
