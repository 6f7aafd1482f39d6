/**
 * Values each analytics node's dialog must refuse, shared by the editor tests (the dialog refuses
 * them) and the node tests (a node deployed with them anyway, from a flow file or an import, stops
 * with a configuration error instead of running on a guess). A case: the field, the value, and
 * other fields of the node where the refusal depends on them (merged onto the dialog's defaults).
 */
export const ANALYTICS = ['stats', 'deadband', 'alarm', 'anomaly', 'vibration', 'oee', 'rate', 'resample', 'scale'] as const;
export type AnalyticsName = (typeof ANALYTICS)[number];
export type RefusedCase = [field: string, value: unknown, others?: Record<string, unknown>];

export const REFUSED: Record<AnalyticsName, RefusedCase[]> = {
  stats: [
    ['window', 'rolling'],
    ['size', '0'],
    ['size', '-5'],
    ['size', 'ten'],
    ['size', '2.5'],
    ['size', '2000000'],
    ['size', '0.0005', { window: 'time' }],
    ['emit', 'always'],
    ['stats', []],
    ['stats', ['mean', 'mode']],
  ],
  deadband: [
    ['mode', 'fast'],
    ['deadband', '-1'],
    ['deadband', 'wide'],
    ['deviation', '-0.5', { mode: 'swinging-door' }],
    ['rangeLow', 'low', { mode: 'percent' }],
    ['rangeHigh', '0', { mode: 'percent', rangeLow: '0' }],
    ['heartbeat', '-1'],
  ],
  alarm: [
    ['high', 'abc'],
    ['high', '95', { highHigh: '90' }],
    ['high', '', { highHigh: '', low: '', lowLow: '' }],
    ['hysteresis', '-1'],
    ['onDelay', 'soon'],
  ],
  anomaly: [
    ['window', '1'],
    ['window', '2', { method: 'mad' }],
    ['window', '2.5'],
    ['threshold', '0'],
    ['warmup', '-3'],
  ],
  vibration: [
    ['sampleRate', '0'],
    ['bands', '[[10,100]'],
    ['bands', '[[100,10]]'],
    ['bands', '[[10,600]]'],
    ['bands', '{"a":1}'],
  ],
  oee: [
    ['idealCycleTime', '0'],
    ['period', '0.5'],
    ['resetAt', "6 o'clock"],
    ['resetAt', '24:00'],
    ['timeZone', 'Mars/Olympus'],
    ['rollover', '-1'],
  ],
  rate: [
    ['mode', 'speed'],
    ['per', 'day'],
    ['rollover', '-1'],
    ['rollover', 'big'],
  ],
  resample: [
    ['interval', '0'],
    ['interval', '0.0001'],
    ['interval', 'hourly'],
    ['aggregate', 'median'],
    ['fill', 'linear'],
  ],
  scale: [
    ['inLow', 'four'],
    ['inHigh', '4', { inLow: '4' }],
    ['outLow', 'x'],
    ['outHigh', 'Infinity'],
  ],
};
