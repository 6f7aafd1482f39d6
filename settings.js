// Node-RED settings for `npm start`: the demo plant on http://127.0.0.1:1880.
// The editor binds to loopback only; set PLANTWIRE_HOST=0.0.0.0 to expose it on purpose.
const path = require('path');

module.exports = {
  uiHost: process.env.PLANTWIRE_HOST || '127.0.0.1',
  uiPort: Number(process.env.PORT || 1880),
  userDir: process.env.PLANTWIRE_USER_DIR || path.join(__dirname, '.node-red-data'),
  flowFile: 'flows.json',
  flowFilePretty: true,
  // Credentials in the flow file are encrypted with this key; a user who deploys for real sets their own.
  credentialSecret: process.env.PLANTWIRE_CREDENTIAL_SECRET || 'plantwire-demo-only',
  nodesDir: [],
  // Totals, alarm states and OEE counters live in node context: keep it on disk so a restart
  // does not forget them (Node-RED's default memory store loses them on every restart).
  contextStorage: {
    default: { module: 'localfilesystem' },
    memory: { module: 'memory' },
  },
  logging: { console: { level: process.env.PLANTWIRE_LOG_LEVEL || 'info', metrics: false, audit: false } },
  // The per-sample analytics nodes tell the runtime a message is done only when something can see
  // it (a Complete node, an onComplete hook, metrics logging); true: always (README: Install).
  plantwireAlwaysDone: false,
  editorTheme: {
    projects: { enabled: false },
    tours: false,
    page: { title: 'Plantwire demo plant' },
    header: { title: 'Plantwire demo plant' },
  },
  functionExternalModules: false,
  externalModules: { autoInstall: false, palette: { allowInstall: true } },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
};
