/**
 * A node's editor definition (the object its .html registers with RED.nodes.registerType), run
 * outside a browser: a minimal RED and a jQuery that finds no open dialog, so validators fall
 * back to the node's own values (`this`), as the editor does when it checks a deployed node.
 */
import * as fs from 'fs';
import * as vm from 'vm';

export interface FieldDef {
  value: unknown;
  required?: boolean;
  validate?: (this: Record<string, unknown>, v: unknown) => boolean;
}

export interface EditorDef {
  category: string;
  color: string;
  icon: string;
  paletteLabel: string;
  defaults: Record<string, FieldDef>;
}

export function editorDef(htmlFile: string, type: string): EditorDef {
  const html = fs.readFileSync(htmlFile, 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1];
  let def: EditorDef | undefined;
  const RED = { nodes: { registerType: (t: string, d: EditorDef) => { if (t === type) def = d; } }, _: (k: string) => k };
  const $ = () => ({ length: 0, val: () => undefined });
  vm.runInNewContext(script, { RED, $, Intl, JSON, Number, String, Array, isFinite });
  if (!def) throw new Error(`${htmlFile} does not register ${type}`);
  return def;
}

/** The values a new node of this type gets in the editor. */
export function editorDefaults(def: EditorDef): Record<string, unknown> {
  return Object.fromEntries(Object.entries(def.defaults).map(([k, v]) => [k, v.value]));
}

/** Whether the dialog accepts `value` for `field` on a node whose other values are `node`. */
export function dialogAccepts(def: EditorDef, field: string, value: unknown, node: Record<string, unknown>): boolean {
  const f = def.defaults[field];
  if (!f) throw new Error(`no field ${field}`);
  if (f.required && (value === '' || value === undefined || value === null)) return false;
  return f.validate ? f.validate.call({ ...node, [field]: value }, value) : true;
}
