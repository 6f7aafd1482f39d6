#!/usr/bin/env node
// A weighing indicator on RS-232: writes the frames given as JSON (an array of strings) into a
// serial device (one end of a socat pseudo-terminal pair), one frame every `gap` ms, then exits.
// Usage: weigh-indicator.js <device> <frames.json> [gap ms]
'use strict';
const fs = require('fs');

const [device, framesFile, gapArg] = process.argv.slice(2);
if (!device || !framesFile) {
  console.error('usage: weigh-indicator.js <device> <frames.json> [gap ms]');
  process.exit(2);
}
const frames = JSON.parse(fs.readFileSync(framesFile, 'utf8'));
const gap = Number(gapArg || 50);
const fd = fs.openSync(device, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
let i = 0;
function next() {
  if (i >= frames.length) {
    fs.closeSync(fd);
    return;
  }
  fs.writeSync(fd, Buffer.from(frames[i++], 'latin1'));
  setTimeout(next, gap);
}
next();
