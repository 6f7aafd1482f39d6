// The benchmark's plant: clusters of 50 tags of mixed types, each cluster 90 contiguous holding
// registers at a multiple of 100, on unit 1. The first 20 clusters are the 1,000 tags polled;
// 200 clusters make the 10,000 tags configured for the memory figure.
'use strict';

const TAGS_PER_CLUSTER = 50;
const CLUSTER_STRIDE = 100;
// [type, order, registers]
const PATTERN = [
  ['uint16', 'AB', 1],
  ['int16', 'AB', 1],
  ['int32', 'ABCD', 2],
  ['float32', 'CDAB', 2],
  ['uint32', 'ABCD', 2],
  ['float32', 'ABCD', 2],
  ['int16', 'BA', 1],
  ['uint16', 'AB', 1],
  ['int32', 'CDAB', 2],
  ['float64', 'ABCDEFGH', 4],
];

/** A value for tag number i of a type: deterministic, of both signs, with every byte in use. */
function rawValue(type, i) {
  switch (type) {
    case 'uint16': return (i * 2654435761) % 65536;
    case 'int16': return ((i * 40503) % 65536) - 32768;
    case 'int32': return ((i * 2654435761) % 4294967296) - 2147483648;
    case 'uint32': return (i * 2246822519) % 4294967296;
    case 'float32': return Math.fround((i % 2 ? -1 : 1) * (i * 1.37 + 0.5));
    case 'float64': return (i % 2 ? -1 : 1) * (i * 3.14159265358979 + 1e-3);
    default: throw new Error(type);
  }
}

/** The tags of cluster c: { name, area, address, type, order } plus its raw value. */
function cluster(c) {
  const tags = [];
  let address = c * CLUSTER_STRIDE;
  for (let k = 0; k < TAGS_PER_CLUSTER; k++) {
    const [type, order, words] = PATTERN[k % PATTERN.length];
    const i = c * TAGS_PER_CLUSTER + k;
    tags.push({ name: `c${String(c).padStart(3, '0')}/t${String(k).padStart(2, '0')}`, area: 'holding', address, type, order, words, value: rawValue(type, i) });
    address += words;
  }
  return { index: c, start: c * CLUSTER_STRIDE, count: address - c * CLUSTER_STRIDE, tags };
}

function clusters(n) {
  return Array.from({ length: n }, (_, c) => cluster(c));
}

/** The pymodbus peer's map (test/interop/pymodbus/server.py). */
function peerMap(list) {
  return { units: [1], values: list.flatMap((cl) => cl.tags.map((t) => ({ unit: 1, area: t.area, address: t.address, type: t.type, order: t.order, raw: t.value }))) };
}

/** Plantwire's tag table (DESIGN.md section 4). */
function plantwireTags(list) {
  return list.flatMap((cl) => cl.tags.map(({ name, area, address, type, order }) => ({ name, area, address, type, order })));
}

function expected(list) {
  return Object.fromEntries(list.flatMap((cl) => cl.tags.map((t) => [t.name, t.value])));
}

module.exports = { TAGS_PER_CLUSTER, CLUSTER_STRIDE, clusters, peerMap, plantwireTags, expected };
