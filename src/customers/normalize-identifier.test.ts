import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { isBlockedIdentifier, normalizeChannelId, normalizeEmail, normalizePhone, toNameSearch, type IdentityRules } from './normalize-identifier.ts';

// One person, typed many ways: the register, Shopify and Square each spell Jane's phone and email
// differently, and every spelling must normalise to the one value her profile is found by.

describe('normalizePhone', () => {
  test('(613) 555-0142, 613.555.0142 and +1 613 555 0142 are one number, +16135550142, in Canada', () => {
    for (const typed of ['(613) 555-0142', '613.555.0142', '+1 613 555 0142', '6135550142', '1-613-555-0142', '  613 555 0142  ', '+16135550142']) {
      assert.deepEqual(normalizePhone(typed, 'CA'), { kind: 'phone', original: typed, normalized: '+16135550142', valid: true }, typed);
    }
  });

  test('a number without a country code is read in the merchant default country', () => {
    assert.equal(normalizePhone('020 7946 0958', 'GB').normalized, '+442079460958');
    assert.equal(normalizePhone('+44 20 7946 0958', 'CA').normalized, '+442079460958', 'an explicit country code wins over the default');
  });

  test('an unparseable phone is kept as given (trimmed) and flagged invalid, so it never links profiles', () => {
    for (const typed of ['call me maybe', '555-0142', '', '   ', '+1 555 555 5555', '020 7946 0958', '12']) {
      const result = normalizePhone(typed, 'CA');
      assert.equal(result.valid, false, typed);
      assert.equal(result.original, typed, 'the original is kept byte for byte');
      assert.equal(result.normalized, typed.trim());
      assert.equal(result.kind, 'phone');
    }
  });

  test('property: whatever is typed, the original is kept, and a valid result is E.164', () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), (typed) => {
      const result = normalizePhone(typed, 'CA');
      assert.equal(result.original, typed);
      if (result.valid) assert.match(result.normalized, /^\+[1-9]\d{6,14}$/);
      else assert.equal(result.normalized, typed.trim());
    }));
  });

  test('property: a North American number gives what the full parse gives, however it is typed and wherever the merchant is', () => {
    // normalizePhone answers a ten-digit +1 number valid in the merchant's country without the full
    // parse's search of the 25 countries sharing +1; its answer must be the full parse's, valid or not.
    const fullParse = (typed: string, country: string) => {
      const parsed = parsePhoneNumberFromString(typed.trim(), country as CountryCode);
      return parsed?.isValid() ? parsed.number : typed.trim();
    };
    const digits = (length: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: length, maxLength: length }).map((list) => list.join(''));
    const separator = fc.constantFrom('', ' ', '-', '.', '  ', '/', '\u2013');
    const typedNumber = fc.record({
      prefix: fc.constantFrom('', '+1', '1', '+1 ', '1-', '+', '01'),
      area: fc.oneof(fc.constantFrom('613', '416', '212', '268', '876', '800', '555', '911'), digits(3)),
      parentheses: fc.boolean(),
      exchange: digits(3), line: digits(4), first: separator, second: separator,
      padding: fc.constantFrom('', ' ', '\t'),
    }).map((parts) => `${parts.padding}${parts.prefix}${parts.parentheses ? `(${parts.area})` : parts.area}${parts.first}${parts.exchange}${parts.second}${parts.line}${parts.padding}`);
    const country = fc.constantFrom('CA', 'US', 'JM', 'PR', 'GB', 'FR');
    fc.assert(fc.property(typedNumber, country, (typed, merchantCountry) => {
      assert.equal(normalizePhone(typed, merchantCountry).normalized, fullParse(typed, merchantCountry), `${typed} in ${merchantCountry}`);
    }), { numRuns: 3000 });
  });

  test('property: separators between the digits of a valid Canadian number never change it', () => {
    const separator = fc.constantFrom('', ' ', '-', '.');
    fc.assert(fc.property(separator, separator, fc.boolean(), (first, second, parentheses) => {
      const area = parentheses ? '(613)' : '613';
      assert.equal(normalizePhone(`${area}${first}555${second}0142`, 'CA').normalized, '+16135550142');
    }));
  });
});

describe('normalizeEmail', () => {
  test('an email is trimmed and lowercased, and the original is kept beside it', () => {
    assert.deepEqual(normalizeEmail('  Jane.Doe@Example.COM '), { kind: 'email', original: '  Jane.Doe@Example.COM ', normalized: 'jane.doe@example.com', valid: true });
    assert.equal(normalizeEmail('JANE.DOE@example.com').normalized, 'jane.doe@example.com');
    assert.equal(normalizeEmail('jane.doe@example.com\n').normalized, 'jane.doe@example.com');
  });

  test('something that is not an email is kept and flagged invalid', () => {
    for (const typed of ['not-an-email', 'jane@example', '@example.com', 'jane doe@example.com', '']) {
      const result = normalizeEmail(typed);
      assert.equal(result.valid, false, typed);
      assert.equal(result.original, typed);
    }
  });

  test('property: normalising is idempotent and case-insensitive', () => {
    fc.assert(fc.property(fc.emailAddress(), fc.boolean(), (email, upper) => {
      const typed = upper ? ` ${email.toUpperCase()} ` : email;
      const once = normalizeEmail(typed);
      assert.equal(once.normalized, email.toLowerCase());
      assert.equal(normalizeEmail(once.normalized).normalized, once.normalized);
      assert.equal(once.valid, true);
    }));
  });
});

describe('channel ids and name search', () => {
  test('a channel id is trimmed; an empty one is invalid', () => {
    assert.deepEqual(normalizeChannelId('shopify_id', ' 115310627314723954 '), { kind: 'shopify_id', original: ' 115310627314723954 ', normalized: '115310627314723954', valid: true });
    assert.equal(normalizeChannelId('square_id', '   ').valid, false);
  });

  test('the name search is lowercased "first last", skipping blanks', () => {
    assert.equal(toNameSearch('Jane', 'Doe'), 'jane doe');
    assert.equal(toNameSearch(null, 'Doe'), 'doe');
    assert.equal(toNameSearch('Jane', '  '), 'jane');
    assert.equal(toNameSearch(undefined, null), '');
  });
});

describe('the merchant\'s blocked lists', () => {
  const rules = (overrides: Partial<IdentityRules>): IdentityRules => ({
    defaultCountry: 'CA', foldGmailAddresses: true, blockedEmails: [], blockedPhones: [], maxProfilesPerIdentifier: 5, ...overrides,
  });

  test('a blocked value matches however either side was typed, and the list read once still answers for every number checked', () => {
    // Frozen, as a merchant's parsed settings are: its normalized values are kept with it.
    const blocked = rules({ blockedPhones: Object.freeze(['(613) 555-0100', '+1 613 555 0199']) as string[], blockedEmails: Object.freeze(['Front.Desk@gmail.com']) as string[] });
    for (let round = 0; round < 2; round += 1) {
      assert.equal(isBlockedIdentifier(normalizePhone('613.555.0100', 'CA'), blocked), true);
      assert.equal(isBlockedIdentifier(normalizePhone('6135550199', 'CA'), blocked), true);
      assert.equal(isBlockedIdentifier(normalizePhone('613 555 0142', 'CA'), blocked), false);
      assert.equal(isBlockedIdentifier(normalizeEmail('frontdesk@gmail.com', true), blocked), true, 'Gmail dots folded on both sides');
      assert.equal(isBlockedIdentifier(normalizeEmail('jane@example.com', true), blocked), false);
    }
  });

  test('the same list under another default country, or without Gmail folding, is read again under that rule', () => {
    const phones = Object.freeze(['020 7946 0958']) as string[];
    const london = normalizePhone('+44 20 7946 0958', 'CA');
    assert.equal(isBlockedIdentifier(london, rules({ defaultCountry: 'GB', blockedPhones: phones })), true, 'read in Britain, the listed number is London\'s');
    assert.equal(isBlockedIdentifier(london, rules({ defaultCountry: 'CA', blockedPhones: phones })), false, 'read in Canada it is no valid number');
    const emails = Object.freeze(['front.desk@gmail.com']) as string[];
    assert.equal(isBlockedIdentifier(normalizeEmail('frontdesk@gmail.com', true), rules({ foldGmailAddresses: true, blockedEmails: emails })), true);
    assert.equal(isBlockedIdentifier(normalizeEmail('frontdesk@gmail.com', false), rules({ foldGmailAddresses: false, blockedEmails: emails })), false);
  });

  test('a list that is not frozen is read afresh each time, so a value added to it counts at once', () => {
    const phones = ['(613) 555-0100'];
    const shopper = normalizePhone('613 555 0142', 'CA');
    assert.equal(isBlockedIdentifier(shopper, rules({ blockedPhones: phones })), false);
    phones.push('613-555-0142');
    assert.equal(isBlockedIdentifier(shopper, rules({ blockedPhones: phones })), true);
  });
});
