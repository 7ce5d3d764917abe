import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { generateLoyaltyCode, parseLoyaltyCode } from './loyalty-code.ts';

// An associate types the shopper's loyalty code off her phone or card. A slip of one key, or two
// keys in the wrong order, must be refused rather than find another member.

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function compact(code: string): string {
  return code.replaceAll('-', '');
}

function singleSymbolChanges(code: string): string[] {
  const changes: string[] = [];
  for (let position = 0; position < code.length; position += 1) {
    for (const symbol of alphabet) {
      if (symbol !== code[position]) changes.push(code.slice(0, position) + symbol + code.slice(position + 1));
    }
  }
  return changes;
}

function neighbourSwaps(code: string): string[] {
  const swaps: string[] = [];
  for (let position = 0; position + 1 < code.length; position += 1) {
    const swapped = code.slice(0, position) + code[position + 1] + code[position] + code.slice(position + 2);
    if (swapped !== code) swaps.push(swapped);
  }
  return swaps;
}

/** The one check symbol that makes the payload a valid code, found by trying each. */
function completed(payload: string): string {
  const valid = [...alphabet].map((symbol) => payload + symbol).filter((candidate) => parseLoyaltyCode(candidate) !== undefined);
  assert.equal(valid.length, 1, 'exactly one check symbol completes a payload');
  return valid[0]!;
}

const payloads = fc.array(fc.constantFrom(...alphabet), { minLength: 8, maxLength: 8 }).map((symbols) => symbols.join(''));

describe('loyalty codes', () => {
  test('an issued code reads back as itself, typed with or without dashes, in any case', () => {
    for (let draw = 0; draw < 200; draw += 1) {
      const code = generateLoyaltyCode();
      assert.match(code, /^[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}$/);
      assert.equal(parseLoyaltyCode(compact(code).toLowerCase()), code);
      assert.equal(parseLoyaltyCode(code.replaceAll('-', ' ')), code);
    }
  });

  test('every issued code refuses each single mistyped symbol and each swap of two neighbours', () => {
    for (let draw = 0; draw < 2_000; draw += 1) {
      const code = compact(generateLoyaltyCode());
      for (const typo of [...singleSymbolChanges(code), ...neighbourSwaps(code)]) {
        assert.equal(parseLoyaltyCode(typo), undefined, `${code} typed as ${typo}`);
      }
    }
  });

  test('the check refuses any single mistyped symbol of any code', () => {
    fc.assert(fc.property(payloads, (payload) => {
      const code = completed(payload);
      return singleSymbolChanges(code).every((typo) => parseLoyaltyCode(typo) === undefined);
    }));
  });

  test('the check misses a swap of neighbours only for 0 and Z, which is why issued codes never hold them side by side', () => {
    fc.assert(fc.property(payloads, (payload) => {
      const code = completed(payload);
      for (let position = 0; position + 1 < code.length; position += 1) {
        const pair = code[position]! + code[position + 1]!;
        if (pair[0] === pair[1]) continue;
        const swapped = code.slice(0, position) + pair[1] + pair[0] + code.slice(position + 2);
        const missed = parseLoyaltyCode(swapped) !== undefined;
        assert.equal(missed, pair === '0Z' || pair === 'Z0', `${code}: ${pair} swapped`);
      }
    }));
    assert.ok(parseLoyaltyCode('SK9Z09PDP') !== undefined && parseLoyaltyCode('SK90Z9PDP') !== undefined, 'a code Luhn mod N accepts with 0 and Z either way round');
  });
});
