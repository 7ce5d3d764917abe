import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { getCountries, getCountryCallingCode, PhoneNumber } from 'libphonenumber-js/core';
import phoneMetadata from 'libphonenumber-js/metadata.max.json';

export type IdentifierKind = 'email' | 'phone' | 'loyalty_code' | 'shopify_id' | 'square_id' | 'pos_id';

/** Why an identifier is kept for the record but never used to link profiles. */
export type IdentifierFlag = 'invalid' | 'blocked' | 'over_limit';

export interface NormalizedIdentifier {
  kind: IdentifierKind;
  original: string;
  normalized: string;
  /** Invalid values are kept as given for the record but never used to link profiles. */
  valid: boolean;
  /** The channel verified it (Shopify's `verified_email`): the basis for automatic merges. */
  verified?: boolean;
}

export interface IdentityRules {
  defaultCountry: string;
  foldGmailAddresses: boolean;
  blockedEmails: string[];
  blockedPhones: string[];
  maxProfilesPerIdentifier: number;
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const gmailDomains = new Set(['gmail.com', 'googlemail.com']);

/**
 * Trims and lowercases an email; with `foldGmail`, also drops dots and a +tag from a Gmail local
 * part, since Gmail delivers all of them to one inbox. The original is kept beside it.
 */
export function normalizeEmail(raw: string, foldGmail = false): NormalizedIdentifier {
  let normalized = raw.trim().toLowerCase();
  const valid = emailPattern.test(normalized);
  if (valid && foldGmail) {
    const [local = '', domain = ''] = normalized.split('@');
    if (gmailDomains.has(domain)) normalized = `${local.split('+')[0]!.replaceAll('.', '')}@gmail.com`;
  }
  return { kind: 'email', original: raw, normalized, valid };
}

/**
 * Puts a phone in E.164 using full metadata and the merchant's default country, so
 * `(613) 555-0142`, `613.555.0142` and `+1 613 555 0142` are one number.
 */
export function normalizePhone(raw: string, defaultCountry: string): NormalizedIdentifier {
  const typed = raw.trim();
  const e164 = northAmericanE164(typed, defaultCountry) ?? parsedE164(typed, defaultCountry);
  if (!e164) return { kind: 'phone', original: raw, normalized: typed, valid: false };
  return { kind: 'phone', original: raw, normalized: e164, valid: true };
}

function parsedE164(typed: string, defaultCountry: string): string | undefined {
  const parsed = parsePhoneNumberFromString(typed, defaultCountry as CountryCode);
  return parsed?.isValid() ? parsed.number : undefined;
}

// A ten-digit North American number as registers and forms type it: an optional +1 or 1, the
// area code (in parentheses or not), the exchange and the line, apart by a space, dot or dash.
const northAmericanTyping = /^(?:\+?1[ .-]?)?(?:\(([2-9]\d\d)\)|([2-9]\d\d))[ .-]?(\d{3})[ .-]?(\d{4})$/;

/** The countries of the North American Numbering Plan, all of them sharing +1. */
export const northAmericanCountries: ReadonlySet<string> = new Set(getCountries(phoneMetadata).filter((country) => getCountryCallingCode(country, phoneMetadata) === '1'));

interface NationalNumber { isValid(): boolean; number: string }
const NationalPhoneNumber = PhoneNumber as unknown as new (country: string, nationalNumber: string, metadata: typeof phoneMetadata) => NationalNumber;

/**
 * The E.164 of a number typed the common North American way and valid in the merchant's country,
 * when that country shares +1; undefined otherwise, and the number is parsed in full. The same
 * answer as the full parse, found without its search: 25 countries share +1, and the full parse
 * finds a number's country by trying theirs in turn (the United States' every number type first,
 * then the others' area codes), 15-45 µs a phone, the largest part of a lookup by phone
 * (bench/customer-lookup.ts). Checked against the full parse for every area code and exchange in
 * each of the 25 countries, two line numbers each, three ways typed
 * (scripts/check-phone-fast-path.ts, 3 minutes); normalize-identifier.test.ts samples it on every run.
 */
function northAmericanE164(typed: string, defaultCountry: string): string | undefined {
  if (!northAmericanCountries.has(defaultCountry)) return undefined;
  const match = northAmericanTyping.exec(typed);
  if (!match) return undefined;
  return nationalNumberE164(defaultCountry, `${match[1] ?? match[2]}${match[3]}${match[4]}`);
}

/** The E.164 of a national number when it is valid in `country` itself (no search of other countries); undefined otherwise. */
export function nationalNumberE164(country: string, nationalNumber: string): string | undefined {
  const number = new NationalPhoneNumber(country, nationalNumber, phoneMetadata);
  return number.isValid() ? number.number : undefined;
}

export function normalizeChannelId(kind: 'shopify_id' | 'square_id' | 'pos_id', raw: string): NormalizedIdentifier {
  const normalized = raw.trim();
  return { kind, original: raw, normalized, valid: normalized.length > 0 };
}

/** Lowercased "first last" used for name-prefix lookup. */
export function toNameSearch(firstName: string | null | undefined, lastName: string | null | undefined): string {
  return [firstName, lastName].filter((part) => part && part.trim()).join(' ').trim().toLowerCase();
}

// Placeholders people type when a shopper won't give a real value; they would otherwise join
// every such shopper into one profile.
const placeholderEmailLocals = new Set(['noemail', 'no-email', 'none', 'no', 'na', 'n/a', 'test', 'walkin', 'walk-in', 'customer', 'nobody', 'noreply', 'no-reply']);

function isPlaceholderPhone(e164: string): boolean {
  const digits = e164.replace(/\D/g, '');
  const national = digits.length > 10 ? digits.slice(-10) : digits;
  return /^(\d)\1+$/.test(national) || national === '1234567890';
}

// The merchant's blocked lists as normalized values, by the list they came from. Normalizing the
// whole list for every identifier checked parsed each blocked phone again for every phone an
// order or a register brought (10-35 µs a parse: with the 1,000 the settings allow, tens of
// milliseconds an order). A merchant's settings are parsed once per text and frozen
// (merchant-service.ts), so the same list is the same array until the settings change.
const normalizedBlockedLists = new WeakMap<readonly string[], { rule: string; values: ReadonlySet<string> }>();

function normalizedBlockedList(list: readonly string[], rule: string, normalize: (value: string) => string): ReadonlySet<string> {
  const kept = normalizedBlockedLists.get(list);
  if (kept && kept.rule === rule) return kept.values;
  const values = new Set(list.map(normalize));
  // A list not frozen may still change in its caller's hands: only a frozen one is kept.
  if (Object.isFrozen(list)) normalizedBlockedLists.set(list, { rule, values });
  return values;
}

/** True when a value must never link profiles: placeholders and the merchant's blocked list. */
export function isBlockedIdentifier(identifier: NormalizedIdentifier, rules: IdentityRules): boolean {
  if (!identifier.valid) return false;
  if (identifier.kind === 'email') {
    const local = identifier.normalized.split('@')[0] ?? '';
    if (placeholderEmailLocals.has(local)) return true;
    const fold = rules.foldGmailAddresses;
    return normalizedBlockedList(rules.blockedEmails, `fold:${fold}`, (blocked) => normalizeEmail(blocked, fold).normalized).has(identifier.normalized);
  }
  if (identifier.kind === 'phone') {
    if (isPlaceholderPhone(identifier.normalized)) return true;
    const country = rules.defaultCountry;
    return normalizedBlockedList(rules.blockedPhones, `country:${country}`, (blocked) => normalizePhone(blocked, country).normalized).has(identifier.normalized);
  }
  return false;
}
