import {
  buildMessages,
  checkPublishTopic,
  compileTopicTemplate,
  encodeValue,
  parseUserProperties,
  renderTopic,
  type MessageSettings,
} from '../../../nodes/publish/mqtt-message';
import { ConfigError } from '../../../nodes/shared/errors';
import { samplesFromMessage, isBatchMessage, type SampleMessage } from '../../../nodes/shared/sample';

const base = (over: Partial<MessageSettings> = {}): MessageSettings => ({
  topic: compileTopicTemplate('plant/{tag}'),
  qos: 1,
  retain: false,
  format: 'value',
  split: true,
  maxPayload: 1024,
  v5: false,
  ...over,
});

function build(msg: SampleMessage, over: Partial<MessageSettings> = {}) {
  const samples = samplesFromMessage(msg, { allowObjectValues: true, defaultTag: '', now: () => 5 });
  return buildMessages(msg, samples, isBatchMessage(msg), base(over), 1000).map((m) => ({ ...m, payload: m.payload.toString() }));
}

describe('topic templates', () => {
  it('checks every rendered topic, also after the same template gave valid ones (remembered topics)', () => {
    const t = compileTopicTemplate('plant/{tag}');
    for (let i = 0; i < 3; i++) expect(renderTopic(t, 'line1/temp', {})).toBe('plant/line1/temp');
    for (let i = 0; i < 2; i++) {
      expect(() => renderTopic(t, 'line1//temp', {})).toThrow(/empty level/);
      expect(() => renderTopic(t, 'line1/+', {})).toThrow(/wildcard/);
      expect(() => renderTopic(t, 'a\u0000b', {})).toThrow(/NUL/);
    }
    // More distinct topics than are remembered: the valid ones still pass, the bad one still fails.
    for (let i = 0; i < 12_000; i++) expect(renderTopic(t, `tag${i}`, {})).toBe(`plant/tag${i}`);
    expect(renderTopic(t, 'line1/temp', {})).toBe('plant/line1/temp');
    expect(() => renderTopic(t, 'line1/', {})).toThrow(/empty level/);
  });

  it('substitutes {tag} and message properties by path', () => {
    const t = compileTopicTemplate('site/{msg.site}/{msg.meta.line}/{msg.arr[1]}/{msg.o["a b"]}/{tag}');
    const msg = { site: 'north', meta: { line: 3 }, arr: ['x', 'y'], o: { 'a b': 'q' } };
    expect(renderTopic(t, 'press/temp', msg)).toBe('site/north/3/y/q/press/temp');
  });

  it.each([[''], ['plant/#'], ['plant/+/x'], ['a/{msg.}']])('refuses the template %p when the node starts', (src) => {
    expect(() => compileTopicTemplate(src)).toThrow(/topic/);
  });

  it.each([['plant/{ tag }'], ['{Tag}'], ['plant/{msg}'], ['plant/{tag}/{msg.a.b}/x{y}'], ['p/{ msg.site }/{tag}']])(
    'refuses the unknown placeholder in %p at deploy, naming the allowed forms',
    (src) => {
      expect(() => compileTopicTemplate(src)).toThrow(ConfigError);
      expect(() => compileTopicTemplate(src)).toThrow(/is not a placeholder; use \{tag\} or \{msg\.<path>\}/);
    },
  );

  it.each([
    ['a/+', /wildcard/],
    ['a/#', /wildcard/],
    ['/a', /empty level/],
    ['a/', /empty level/],
    ['a//b', /empty level/],
    ['', /empty/],
  ])('refuses the rendered topic %p', (topic, why) => {
    expect(() => checkPublishTopic(topic)).toThrow(why);
  });

  it('names a missing message property and a missing tag', () => {
    expect(() => renderTopic(compileTopicTemplate('x/{msg.line}'), 't', {})).toThrow(/\{msg.line\} is missing/);
    expect(() => renderTopic(compileTopicTemplate('x/{msg.line}'), 't', { line: { a: 1 } })).toThrow(/an object/);
    expect(() => renderTopic(compileTopicTemplate('x/{tag}'), '', {})).toThrow(/needs \{tag\}/);
  });
});

describe('payloads', () => {
  it('value format: numbers, booleans and null as JSON text, strings as they are, Buffers raw', () => {
    expect(encodeValue(21.5).toString()).toBe('21.5');
    expect(encodeValue(true).toString()).toBe('true');
    expect(encodeValue(null).toString()).toBe('null');
    expect(encodeValue('RUN').toString()).toBe('RUN');
    expect([...encodeValue(Buffer.from([1, 2]))]).toEqual([1, 2]);
  });

  it('one message per tag from a batch, in json format with quality, timestamp and unit', () => {
    const out = build(
      { payload: { t: 21.5, p: 3 }, quality: { p: 'bad' }, timestamp: 77, units: { t: '°C' } },
      { format: 'json' },
    );
    expect(out.map((m) => [m.topic, JSON.parse(m.payload)])).toEqual([
      ['plant/t', { value: 21.5, quality: 'good', timestamp: 77, unit: '°C' }],
      ['plant/p', { value: 3, quality: 'bad', timestamp: 77 }],
    ]);
    expect(out[0]).toMatchObject({ qos: 1, retain: false, ts: 1000 });
  });

  it('one message per batch when split is off, topic from msg.topic', () => {
    const out = build({ topic: 'line1', payload: { t: 1, p: 2 } }, { split: false });
    expect(out).toHaveLength(1);
    expect(out[0].topic).toBe('plant/line1');
    expect(JSON.parse(out[0].payload)).toEqual({ t: 1, p: 2 });
    const json = build({ payload: { t: 1 } }, { split: false, format: 'json', topic: compileTopicTemplate('plant/all') });
    expect(JSON.parse(json[0].payload)).toEqual({ t: { value: 1, quality: 'good', timestamp: 5 } });
  });

  it('encodes a Buffer value in a whole-batch message as base64 in both formats', () => {
    const payload = { a: Buffer.from([0xde, 0xad]), b: 1 };
    const v = build({ topic: 'dev', payload }, { split: false });
    expect(JSON.parse(v[0].payload)).toEqual({ a: '3q0=', b: 1 });
    const j = build({ topic: 'dev', payload }, { split: false, format: 'json' });
    expect(JSON.parse(j[0].payload).a.value).toBe('3q0=');
  });

  it('refuses a batch without a tag for a {tag} topic, circular objects, and payloads over the limit', () => {
    expect(() => build({ payload: { t: 1 } }, { split: false })).toThrow(/needs \{tag\}/);
    const circ: Record<string, unknown> = { a: 1 };
    circ.self = circ;
    expect(() => build({ topic: 'x', payload: circ, quality: 'good' })).toThrow(/cannot be sent as JSON.*circular/i);
    expect(() => build({ topic: 'x', payload: 'y'.repeat(2000) })).toThrow(/2000 bytes, more than the 1024/);
    expect(() => build({ payload: {} })).toThrow(/no samples/);
  });

  it('refuses every message of a batch when one tag makes a bad topic (nothing half-sent)', () => {
    expect(() => build({ payload: { ok: 1, 'bad/+': 2 } })).toThrow(/wildcard/);
  });
});

describe('MQTT 5 properties', () => {
  it('are attached only for MQTT 5, merging node settings with the message', () => {
    const over = { v5: true, contentType: 'text/plain', messageExpiry: 60, userProperties: { site: 'p1', line: '1' } };
    const [m] = build({ topic: 't', payload: 1, userProperties: { line: 2 }, messageExpiryInterval: 30 }, over);
    expect(m.properties).toEqual({ contentType: 'text/plain', messageExpiryInterval: 30, userProperties: { site: 'p1', line: '2' } });
    const [v4] = build({ topic: 't', payload: 1 }, { ...over, v5: false });
    expect(v4.properties).toBeUndefined();
    const [json] = build({ topic: 't', payload: 1 }, { v5: true, format: 'json' });
    expect(json.properties).toEqual({ contentType: 'application/json' });
  });

  it('refuses bad property values from the message', () => {
    expect(() => build({ topic: 't', payload: 1, userProperties: { a: { b: 1 } } }, { v5: true })).toThrow(/userProperties.a must be a string/);
    expect(() => build({ topic: 't', payload: 1, messageExpiryInterval: -1 }, { v5: true })).toThrow(/whole seconds/);
    expect(() => build({ topic: 't', payload: 1, contentType: 5 }, { v5: true })).toThrow(/contentType/);
  });

  it('parses the user properties setting', () => {
    expect(parseUserProperties('{"site":"p1","n":2}')).toEqual({ site: 'p1', n: '2' });
    expect(parseUserProperties('')).toBeUndefined();
    expect(() => parseUserProperties('{bad')).toThrow(/JSON object/);
    expect(() => parseUserProperties('[1]')).toThrow(/object/);
  });
});
