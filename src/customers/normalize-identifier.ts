import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

export type IdentifierKind = 'email' | 'phone' | 'loyalty_code' | 'shopify_id' | 'square_id' | 'pos_id';

export interface NormalizedIdentifier {
  kind: IdentifierKind;
  original: string;
  normalized: string;
  /** Invalid values are kept as given for the record but never used to link profiles. */
  valid: boolean;
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Trims and lowercases an email; the original is kept beside it. */
export function normalizeEmail(raw: string): NormalizedIdentifier {
  const normalized = raw.trim().toLowerCase();
  return { kind: 'email', original: raw, normalized, valid: emailPattern.test(normalized) };
}

/**
 * Puts a phone in E.164 using full metadata and the merchant's default country, so
 * `(613) 555-0142`, `613.555.0142` and `+1 613 555 0142` are one number.
 */
export function normalizePhone(raw: string, defaultCountry: string): NormalizedIdentifier {
  const parsed = parsePhoneNumberFromString(raw.trim(), defaultCountry as CountryCode);
  if (!parsed || !parsed.isValid()) return { kind: 'phone', original: raw, normalized: raw.trim(), valid: false };
  return { kind: 'phone', original: raw, normalized: parsed.number, valid: true };
}

export function normalizeChannelId(kind: 'shopify_id' | 'square_id' | 'pos_id', raw: string): NormalizedIdentifier {
  const normalized = raw.trim();
  return { kind, original: raw, normalized, valid: normalized.length > 0 };
}

/** Lowercased "first last" used for name-prefix lookup. */
export function toNameSearch(firstName: string | null | undefined, lastName: string | null | undefined): string {
  return [firstName, lastName].filter((part) => part && part.trim()).join(' ').trim().toLowerCase();
}
