// bench/modbus-poll's consumer: checks every value of a batch { tag: value } against the value the
// server was given (global benchSpec) and counts complete polls in global benchStats. Plain code,
// as the bare loops check theirs, so that the instrument costs every reader alike. With `loop`, the
// checked message goes back out (wired to the reader: the next on-demand read).
module.exports = function (RED) {
  RED.nodes.registerType('bench-check', function (config) {
    RED.nodes.createNode(this, config);
    const global = this.context().global;
    this.on('input', (msg, send, done) => {
      const spec = global.get('benchSpec');
      const s = global.get('benchStats');
      if (s) {
        const now = Date.now();
        const values = msg.payload;
        const q = msg.quality || {};
        for (const tag in values) {
          const want = spec.expected[tag];
          s.values++;
          if (!Object.is(values[tag], want)) {
            s.wrong++;
            if (s.examples.length < 5) s.examples.push({ tag, read: values[tag], expected: want });
          }
          if (q[tag] !== undefined && q[tag] !== 'good') s.bad++;
        }
        const cluster = msg.benchCluster;
        let complete = cluster === undefined;
        if (!complete) {
          s.clusterReads[cluster] = (s.clusterReads[cluster] || 0) + 1;
          s.seen[cluster] = true;
          complete = Object.keys(s.seen).length === spec.clusters;
          if (complete) s.seen = {};
        }
        if (complete) {
          s.polls++;
          if (s.last) s.cycles.push(now - s.last);
          s.last = now;
        }
      }
      if (config.loop) send(msg);
      done();
    });
  });
};
