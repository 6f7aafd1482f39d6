/** Reading editor settings: the editor stores numbers as strings, and empty means "use the default". */
import { ConfigError } from './errors';

export function numberSetting(raw: unknown, name: string, fallback?: number): number {
  if (raw === undefined || raw === null || raw === '') {
    if (fallback === undefined) throw new ConfigError(`${name} is required`);
    return fallback;
  }
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(n)) throw new ConfigError(`${name} must be a number, not "${String(raw).slice(0, 30)}"`);
  return n;
}

export function optionalNumberSetting(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  return numberSetting(raw, name);
}

export function boolSetting(raw: unknown, fallback = false): boolean {
  if (raw === undefined || raw === null || raw === '') return fallback;
  return raw === true || raw === 'true';
}

export function choiceSetting<T extends string>(raw: unknown, name: string, choices: readonly T[], fallback: T): T {
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (typeof raw === 'string' && (choices as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${choices.join(', ')}, not "${String(raw)}"`);
}
