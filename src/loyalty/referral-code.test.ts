import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateReferralCode, parseReferralCode } from './referral-code.ts';

test('a generated referral code is REF- and six Crockford symbols, and reads back as itself', () => {
  for (let index = 0; index < 1000; index += 1) {
    const code = generateReferralCode();
    assert.match(code, /^REF-[0-9A-HJKMNP-TV-Z]{6}$/);
    assert.equal(parseReferralCode(code), code);
  }
});

test('a referral code typed loosely is read: any case, spaces or no dash, without the prefix, I/L as 1 and O as 0', () => {
  assert.equal(parseReferralCode('ref 7kq2m9'), 'REF-7KQ2M9');
  assert.equal(parseReferralCode('  REF-7KQ2M9 '), 'REF-7KQ2M9');
  assert.equal(parseReferralCode('7kq2m9'), 'REF-7KQ2M9');
  assert.equal(parseReferralCode('REF-IL0O00'), 'REF-110000');
  assert.equal(parseReferralCode('REFABC'), 'REF-REFABC', 'six symbols that begin with REF are the code, not a prefix');
});

test('what cannot be a referral code is refused', () => {
  for (const typed of ['', 'REF-', 'REF-7KQ2M', 'REF-7KQ2M9X', 'REF-7KQ2MU', 'REF-7KQ2M!']) assert.equal(parseReferralCode(typed), undefined, typed);
});
