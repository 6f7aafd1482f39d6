#!/usr/bin/env node
// `bench/run.sh publish [messages] [backlog] [bigBacklog]`: runs mqtt.js with --expose-gc, so that
// the RSS figure for the on-disk backlog is taken after a garbage collection.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');
const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, 'mqtt.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
