#!/usr/bin/env node
// Plantwire's Modbus engine alone (session + poller from dist/, no Node-RED), reading the bench's
// 1,000 tags back to back: separates the engine's cost from the runtime's in bench/modbus-poll.
// usage: engine.js --port P --clusters 20 --inflight N --seconds S --warmup W   (prints one JSON object)
'use strict';
const path = require('path');
const { createModbusSession } = require(path.resolve(__dirname, '../../dist/modbus/session.js'));
const { ModbusPoller } = require(path.resolve(__dirname, '../../dist/modbus/poller.js'));
const { clusters, plantwireTags, expected } = require('./layout');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const list = clusters(arg('clusters', 20));
const want = expected(list);
const tags = plantwireTags(list);

(async () => {
  const session = createModbusSession({ transport: 'tcp', host: '127.0.0.1', port: arg('port'), timeout: 2000, maxInFlight: arg('inflight', 1) });
  for (let i = 0; i < 500 && session.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 10));
  const poller = new ModbusPoller({ session, unitId: 1, tags, limits: { maxRegisters: 125, maxBits: 2000, maxGap: arg('gap', 10) } });
  let wrong = 0;
  let values = 0;
  const check = (r) => {
    for (let i = 0; i < r.tags.length; i++) {
      values++;
      if (!Object.is(r.values[i], want[r.tags[i].name])) wrong++;
    }
  };
  const warmEnd = Date.now() + arg('warmup', 2) * 1000;
  while (Date.now() < warmEnd) check(await poller.pollOnce());
  wrong = 0;
  values = 0;
  const start = process.hrtime.bigint();
  const end = Date.now() + arg('seconds', 10) * 1000;
  let polls = 0;
  while (Date.now() < end) {
    check(await poller.pollOnce());
    polls++;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  await session.close();
  console.log(JSON.stringify({ requests_per_poll: poller.blocks.length, polls, tags_per_s: Math.round(values / elapsed), wrong_values: wrong }));
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
