/**
 * Each analytics engine is a module of its own, usable without Node-RED (DESIGN.md: an engine
 * module with no node-red import, a thin node around it): neither it nor anything it imports,
 * followed to the end, loads Node-RED or the node-side helpers (status, input handling, the
 * runtime's types).
 */
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '../../..');
const ENGINES = ['window', 'deadband-filter', 'alarm-state', 'detectors', 'spectrum', 'oee-calc', 'counter-rate', 'buckets', 'scaling'];
/** Files that belong to the node side: the runtime's API and what only nodes use. */
const NODE_SIDE = ['nodes/shared/red.ts', 'nodes/shared/status.ts', 'nodes/shared/input.ts', 'nodes/shared/throttled-status.ts'];

/** Every module `file` loads, followed through local imports: local files (relative to root) and packages. */
function importsOf(file: string, seen = new Set<string>(), packages = new Set<string>()): { files: Set<string>; packages: Set<string> } {
  const rel = path.relative(root, file);
  if (seen.has(rel)) return { files: seen, packages };
  seen.add(rel);
  const source = fs.readFileSync(file, 'utf8');
  const specs = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|require\('([^']+)'\)|^import\s+'([^']+)'/gm)].map((m) => m[1] ?? m[2] ?? m[3]);
  for (const spec of specs) {
    if (!spec.startsWith('.')) {
      packages.add(spec);
      continue;
    }
    const target = path.resolve(path.dirname(file), spec);
    const found = [`${target}.ts`, path.join(target, 'index.ts')].find((f) => fs.existsSync(f));
    if (!found) throw new Error(`${rel}: cannot resolve ${spec}`);
    importsOf(found, seen, packages);
  }
  return { files: seen, packages };
}

describe.each(ENGINES)('engine %s', (engine) => {
  const { files, packages } = importsOf(path.join(root, 'nodes/analytics', `${engine}.ts`));

  it('loads neither Node-RED nor any node-side module', () => {
    expect([...packages].filter((p) => /node-red/.test(p))).toEqual([]);
    expect([...files].filter((f) => NODE_SIDE.includes(f))).toEqual([]);
    // No thin node file either (a node module registers a type with RED).
    for (const f of files) expect([f, /RED\.nodes\.registerType/.test(fs.readFileSync(path.join(root, f), 'utf8'))]).toEqual([f, false]);
  });

  it('has its imports read by the walk (a walk that found none would pass the check above vacuously)', () => {
    expect(files.size).toBeGreaterThan(1);
  });
});
