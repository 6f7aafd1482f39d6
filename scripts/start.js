#!/usr/bin/env node
// `npm start`: run Node-RED with settings.js, the palette from this working tree and, on first
// start, the demo plant from flows/demo-plant.json. Before Node-RED starts, an embedded MQTT broker
// (scripts/embedded-broker.js) opens on 127.0.0.1:1884 so the demo's publishing has somewhere to go.
//
// Environment: PORT (editor, 1880), PLANTWIRE_HOST (127.0.0.1), PLANTWIRE_USER_DIR (.node-red-data),
// PLANTWIRE_BROKER_PORT (1884; 0 = no embedded broker), PLANTWIRE_MODBUS_PORT (the demo PLC, 5020).
// The two demo ports are written into the demo flow when it is first copied into the user folder.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { startEmbeddedBroker, brokerPort, DEFAULT_PORT } = require('./embedded-broker');

const DEMO_MODBUS_PORT = 5020;
const root = path.resolve(__dirname, '..');
const userDir = process.env.PLANTWIRE_USER_DIR || path.join(root, '.node-red-data');

function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`${name} must be a port number from 1 to 65535 (got "${raw}")`);
    process.exit(2);
  }
  return n;
}

/** The demo flow with its broker and Modbus ports moved, when the user asked for other ports. */
function demoFlow(mqttPort, modbusPort) {
  const flow = JSON.parse(fs.readFileSync(path.join(root, 'flows', 'demo-plant.json'), 'utf8'));
  for (const n of flow) {
    if (n.type === 'plantwire-mqtt-broker' && typeof n.url === 'string') n.url = n.url.replace(`:${DEFAULT_PORT}`, `:${mqttPort}`);
    if (n.type === 'mqtt-broker' && Number(n.port) === DEFAULT_PORT) n.port = String(mqttPort);
    if ((n.type === 'plantwire-modbus-server' || n.type === 'plantwire-modbus-connection') && n.port === DEMO_MODBUS_PORT) n.port = modbusPort;
  }
  return JSON.stringify(flow, null, 4);
}

async function main() {
  let mqttPort;
  try {
    mqttPort = brokerPort();
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  const modbusPort = portFromEnv('PLANTWIRE_MODBUS_PORT', DEMO_MODBUS_PORT);
  fs.mkdirSync(userDir, { recursive: true });

  // Install the working tree into the user folder as a linked module, the way `npm link` would, so
  // Node-RED loads the palette exactly as a user's installation does (from package.json "node-red").
  const link = path.join(userDir, 'node_modules', '@plantwire', 'node-red-iiot');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  try {
    if (fs.readlinkSync(link) !== root) throw new Error('stale');
  } catch {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(root, link, 'dir');
  }
  const userPkg = path.join(userDir, 'package.json');
  if (!fs.existsSync(userPkg)) {
    fs.writeFileSync(userPkg, JSON.stringify({ name: 'plantwire-demo', private: true, dependencies: { '@plantwire/node-red-iiot': 'file:' + root } }, null, 2));
  }
  const flowFile = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flowFile)) fs.writeFileSync(flowFile, demoFlow(mqttPort || DEFAULT_PORT, modbusPort));

  // The broker lives in this process, so it is up before Node-RED's MQTT nodes first connect.
  const broker = mqttPort === 0 ? null : await startEmbeddedBroker({ port: mqttPort });
  if (mqttPort === 0) console.log('Embedded MQTT broker: off (PLANTWIRE_BROKER_PORT=0); the demo\'s MQTT nodes need a broker of your own.');

  const host = process.env.PLANTWIRE_HOST || '127.0.0.1';
  const port = process.env.PORT || 1880;
  console.log(`\nPlantwire demo plant: open http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/ in your browser.`);
  console.log(`User data (flows, buffers): ${userDir}. Delete it to start again from the demo plant.\n`);

  const redMain = require.resolve('node-red/red.js');
  const child = spawn(process.execPath, [redMain, '--settings', path.join(root, 'settings.js'), '--userDir', userDir, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl+C reaches Node-RED too (same process group); passing the signal on covers `kill <pid>`.
  const stop = (sig) => child.kill(sig);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // `kill <npm's pid>` ends npm and its shell but not this process (npm signals only the shell), which
  // would leave Node-RED and the broker running with no parent: under npm, stop when npm is gone.
  if (process.env.npm_lifecycle_event === 'start') {
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) stop('SIGTERM');
    }, 1000);
    watch.unref();
  }
  child.on('exit', async (code, signal) => {
    if (broker) await broker.close();
    process.exit(signal ? 0 : code ?? 0);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
