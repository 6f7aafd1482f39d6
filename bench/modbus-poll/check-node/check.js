// bench/modbus-poll's consumer: checks a batch { tag: value } against the values the server was
// given (global benchSpec) and counts complete polls in global benchStats. Plain code that walks
// the expected tag list, as the bare loops walk theirs (one lookup of the value, one of its
// quality), so that the instrument costs every reader alike; a tag missing from a batch counts as
// a wrong value. A message with `benchCluster` (node-red-contrib-modbus: one message per cluster)
// is checked against that cluster's tags. With `loop`, the checked message goes back out (wired to
// the reader: the next on-demand read).
module.exports = function (RED) {
  RED.nodes.registerType('bench-check', function (config) {
    RED.nodes.createNode(this, config);
    const global = this.context().global;
    let lists; // [names, values] of every tag, and of each cluster (built once from benchSpec)
    this.on('input', (msg, send, done) => {
      const spec = global.get('benchSpec');
      const s = global.get('benchStats');
      if (s) {
        if (!lists) {
          const all = Object.keys(spec.expected);
          const per = {};
          for (const name of all) (per[name.split('/')[0]] ??= []).push(name);
          lists = { all: [all, all.map((n) => spec.expected[n])], cluster: Object.values(per).map((names) => [names, names.map((n) => spec.expected[n])]) };
        }
        const now = Date.now();
        const values = msg.payload;
        const q = msg.quality || {};
        const cluster = msg.benchCluster;
        const [names, want] = cluster === undefined ? lists.all : lists.cluster[cluster];
        for (let i = 0; i < names.length; i++) {
          const tag = names[i];
          const got = values[tag];
          s.values++;
          if (!Object.is(got, want[i])) {
            s.wrong++;
            if (s.examples.length < 5) s.examples.push({ tag, read: got, expected: want[i] });
          }
          const quality = q[tag];
          if (quality !== undefined && quality !== 'good') s.bad++;
        }
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
