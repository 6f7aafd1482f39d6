/**
 * Reading the tag table of a read or write node from its flow settings. The editor stores what
 * its inputs held (numbers may arrive as strings, empty optional fields as ''), and a flow file can
 * be edited by hand, so everything is checked here once, when the node starts: a setting that
 * cannot work is one ConfigError naming the tag, never a surprise at the first poll.
 * The same rules live in the editor (modbus-connection.html, PlantwireModbus.tagProblem).
 */
import { ConfigError } from '../shared/errors';
import { isPlainObject, typeName } from '../shared/sample';
import { ordersFor, validateTag } from './codec';
import { isBitArea, type Area, type ByteOrder, type DataType, type TagDef } from './types';

export interface TagSettingsOptions {
  /** Write nodes: input registers and discrete inputs are read-only (Modbus has no FC for them). */
  writable?: boolean;
}

function blank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/** A number from a flow setting; the editor may have stored it as a string. */
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v.trim());
  return NaN;
}

/** One tag from its flow form to a TagDef, or a ConfigError naming it. */
export function readTag(raw: unknown, index: number, options: TagSettingsOptions = {}): TagDef {
  if (!isPlainObject(raw)) throw new ConfigError(`tag ${index + 1} must be an object, not ${typeName(raw)}`);
  const name = typeof raw.name === 'string' ? raw.name.trim() : '';
  if (name === '') throw new ConfigError(`tag ${index + 1} needs a name`);
  const tag: TagDef = {
    name,
    area: (blank(raw.area) ? 'holding' : raw.area) as Area,
    address: num(raw.address),
    type: (blank(raw.type) ? 'uint16' : raw.type) as DataType,
  };
  if (blank(raw.address)) throw new ConfigError(`tag "${name}": address is required (0-65535)`);
  if (!blank(raw.order)) tag.order = String(raw.order) as ByteOrder;
  if (!blank(raw.bit)) tag.bit = num(raw.bit);
  if (!blank(raw.length)) tag.length = num(raw.length);
  if (!blank(raw.scale)) tag.scale = num(raw.scale);
  if (!blank(raw.offset)) tag.offset = num(raw.offset);
  if (!blank(raw.unit)) tag.unit = String(raw.unit);
  validateTag(tag);
  if (tag.order !== undefined) {
    const fits = tag.type === 'bool' && isBitArea(tag.area) ? [] : ordersFor(tag.type);
    if (!fits.includes(tag.order)) {
      throw new ConfigError(
        `tag "${name}": byte order ${tag.order} does not fit ${tag.type}` + (fits.length ? ` (use ${fits.join(', ')})` : ' (a single bit has no byte order)'),
      );
    }
  }
  if (options.writable && (tag.area === 'input' || tag.area === 'discrete')) {
    throw new ConfigError(`tag "${name}": ${tag.area === 'input' ? 'input registers' : 'discrete inputs'} are read-only and cannot be written`);
  }
  return tag;
}

/** The whole table: at least one tag, names unique, each tag valid. */
export function readTags(raw: unknown, options: TagSettingsOptions = {}): TagDef[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError('the tag table is empty: add at least one tag');
  const seen = new Set<string>();
  return raw.map((r, i) => {
    const tag = readTag(r, i, options);
    if (seen.has(tag.name)) throw new ConfigError(`tag name "${tag.name}" is used twice; tag names must be unique`);
    seen.add(tag.name);
    return tag;
  });
}

/** A unit id from settings or a request: 0-255 (0 is broadcast on RTU, "this device" on most TCP servers). */
export function readUnitId(raw: unknown, fallback = 1): number {
  if (blank(raw)) return fallback;
  const n = num(raw);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new ConfigError(`unit id must be an integer 0-255, not "${String(raw).slice(0, 20)}"`);
  return n;
}
