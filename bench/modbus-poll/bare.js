#!/usr/bin/env node
// Anchors (c) and (d): a bare modbus-serial client reading the benchmark's blocks in a loop, one
// request at a time or with N in flight, in a process of its own (so its RSS is its own). Values
// are decoded with Plantwire's codec and checked. Prints one JSON object.
// usage: bare.js --port P --clusters 20 --inflight N --seconds S --warmup W
'use strict';
const path = require('path');
const ModbusRTU = require('modbus-serial');
const { decodeTag } = require(path.resolve(__dirname, '../../dist/modbus/codec.js'));
const { clusters, expected } = require('./layout');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const port = arg('port');
const n = arg('clusters', 20);
const inflight = arg('inflight', 1);
const seconds = arg('seconds', 10);
const warmup = arg('warmup', 2);

const list = clusters(n);
const want = expected(list);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

(async () => {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(2000);
  let wrong = 0;
  let values = 0;
  const examples = [];
  const check = (cl, words) => {
    for (const t of cl.tags) {
      const got = decodeTag(t, words, t.address - cl.start);
      values++;
      if (!Object.is(got, want[t.name])) {
        wrong++;
        if (examples.length < 5) examples.push({ tag: t.name, read: got, expected: want[t.name] });
      }
    }
  };
  const readBlock = async (cl) => check(cl, (await client.readHoldingRegisters(cl.start, cl.count)).data);
  const poll = async () => {
    if (inflight <= 1) {
      for (const cl of list) await readBlock(cl);
      return;
    }
    let next = 0;
    const worker = async () => {
      while (next < list.length) await readBlock(list[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(inflight, list.length) }, worker));
  };
  const warmEnd = Date.now() + warmup * 1000;
  while (Date.now() < warmEnd) await poll();
  wrong = 0;
  values = 0;
  examples.length = 0;
  const cycles = [];
  const start = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  let polls = 0;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    await poll();
    cycles.push(Number(process.hrtime.bigint() - t0) / 1e6);
    polls++;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  cycles.sort((a, b) => a - b);
  client.close(() => undefined);
  console.log(JSON.stringify({
    requests_per_poll: list.length,
    polls,
    tags_per_s: Math.round((polls * n * 50) / elapsed),
    requests_per_s: Math.round((polls * list.length) / elapsed),
    poll_latency_ms: { p50: round(percentile(cycles, 50)), p99: round(percentile(cycles, 99)) },
    rss_mb: round(process.memoryUsage().rss / 1048576),
    values_checked: values,
    wrong_values: wrong,
    wrong_examples: examples,
  }));
  process.exit(0);
})().catch((err) => {
  console.log(JSON.stringify({ error: String(err && err.message ? err.message : err) }));
  process.exit(1);
});

function round(x) {
  return x === null ? null : Math.round(x * 10) / 10;
}
