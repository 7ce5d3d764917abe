import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AppError } from './app-error.ts';
import { parseJsonExactly, parseJsonSafely } from './json.ts';

// The worker reads every channel body with parseJsonExactly; it must give what the lossless parser
// gives (ids past 2^53 as their digits), however strings, escapes and numbers are mixed.

/** JSON text whose leaves include integers and decimals too long for a double, and strings full of digits, quotes and backslashes. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
    fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.bigInt({ min: 0n, max: 10n ** 20n })).map(([whole, fraction]) => `${whole}.${fraction}`),
    fc.stringMatching(/^[\d"\\:,[\]{} a-z.eE-]{0,30}$/).map((text) => JSON.stringify(text)),
    fc.constantFrom('true', 'false', 'null', '1e400', '-0', '12345678901234567e-3'),
    fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(', ')}]`),
    fc.array(fc.tuple(fc.stringMatching(/^[a-z\d"\\]{1,8}$/), tie('value')), { maxLength: 5 })
      .map((entries) => [...new Map(entries).entries()]) // no key twice: the lossless parser refuses those
      .map((entries) => `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`),
  ),
})).value;

describe('parseJsonExactly', () => {
  test('reads any JSON as the lossless parser does: long numbers as their text, the rest as JSON.parse', () => {
    fc.assert(fc.property(jsonText, (text) => {
      assert.deepEqual(parseJsonExactly(text), parseJsonSafely(text));
    }), { numRuns: 2000 });
  });

  test('keeps an 18-digit Shopify id exact where JSON.parse rounds it', () => {
    const order = readFileSync(join(import.meta.dirname, '../../test/fixtures/shopify/orders-create.json'), 'utf8');
    const parsed = parseJsonExactly(order) as { id: unknown; line_items: { id: unknown }[] };
    assert.deepEqual(parsed, parseJsonSafely(order));
    const text = '{"id": 820982911946154508, "note": "call 820982911946154508", "total": 12.5}';
    assert.deepEqual(parseJsonExactly(text), { id: '820982911946154508', note: 'call 820982911946154508', total: 12.5 });
    assert.notEqual(String((JSON.parse(text) as { id: number }).id), '820982911946154508');
  });

  test('refuses what is not JSON with the same error as the lossless parser', () => {
    // A long number where an object's key belongs stays refused, as it is not JSON.
    for (const text of ['{"id": 820982911946154508', '{"a": "unterminated', '[1, 2,]', '', '{820982911946154508: 1}', '{"a": 1, 820982911946154508: 2}']) {
      assert.throws(() => parseJsonExactly(text), (error: unknown) => error instanceof AppError && error.code === 'request.malformed_json');
    }
  });
});
