/**
 * The dialog and the runtime agree: each analytics node starts with the values its dialog gives a
 * new node, and a node deployed with a value its dialog refuses (a hand-edited flow file, an
 * import) stops with a configuration error on its status and in the log instead of running on a
 * guess. The refused values are the ones the editor tests check the dialogs refuse
 * (test/helpers/analytics-editor-cases.ts).
 */
import * as path from 'path';
import { ANALYTICS, REFUSED, type AnalyticsName } from '../../helpers/analytics-editor-cases';
import { editorDef, editorDefaults } from '../../helpers/editor-def';
import { helper, load, startServer, stop, type TestNode } from '../../helpers/red';
import { statusesOf } from './statuses';

const dir = path.join(__dirname, '../../../nodes/analytics');

/** The node module of an analytics node, loaded from its TypeScript source. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const moduleOf = (name: AnalyticsName): unknown => require(path.join(dir, `${name}.ts`));

function errorsOf(node: TestNode): unknown[] {
  return node.error
    .getCalls()
    .filter((c: { thisValue: unknown }) => c.thisValue === node)
    .map((c: { args: unknown[] }) => c.args[0]);
}

describe.each(ANALYTICS)('plantwire-%s: dialog and runtime', (name) => {
  const def = editorDef(path.join(dir, `${name}.html`), `plantwire-${name}`);
  const defaults = editorDefaults(def);
  const deploy = async (config: Record<string, unknown>): Promise<TestNode> => {
    await load(moduleOf(name), [{ id: 'n', type: `plantwire-${name}`, ...config, wires: [[]] }]);
    return helper.getNode('n');
  };

  beforeEach(startServer);
  afterEach(stop);

  it('starts with the values the dialog gives a new node', async () => {
    const n = await deploy(defaults);
    expect(errorsOf(n)).toEqual([]);
    expect(statusesOf(n).filter((s) => s.fill === 'red')).toEqual([]);
  });

  // A rest parameter: jest would take a declared third parameter for a `done` callback when a case has two values.
  it.each(REFUSED[name])('stops with a configuration error for %s = %p', async (...[field, value, others]: [string, unknown, Record<string, unknown>?]) => {
    const n = await deploy({ ...defaults, ...others, [field]: value });
    expect(statusesOf(n).at(-1)).toMatchObject({ fill: 'red', text: `${name}.status.config` });
    const errors = errorsOf(n);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).not.toBe('');
  });
});
