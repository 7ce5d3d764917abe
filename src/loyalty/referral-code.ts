import { randomInt } from 'node:crypto';

// Referral codes are read aloud and typed by a friend at a register or a checkout: "REF-" and six
// symbols of Crockford's base-32 alphabet (no I, L, O or U, so nothing is confused with 1, 0 or V).
// Six symbols give about a billion codes per merchant, so a random code rarely collides and a
// mistyped one rarely names another member. The alphabet is the loyalty code's
// (customers/loyalty-code.ts); it is repeated here rather than imported so the loyalty domain does
// not depend on the customers domain for one constant.

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const prefix = 'REF-';
export const referralCodeSymbols = 6;

export function generateReferralCode(): string {
  let symbols = '';
  for (let index = 0; index < referralCodeSymbols; index += 1) symbols += alphabet[randomInt(alphabet.length)];
  return prefix + symbols;
}

/**
 * Reads a referral code as someone typed it: ignores case, spaces, dashes and the `REF` prefix,
 * reads I and L as 1 and O as 0. Returns the canonical form (`REF-7KQ2M9`), or undefined when it
 * cannot be a referral code.
 */
export function parseReferralCode(typed: string): string | undefined {
  let compact = typed.toUpperCase().replace(/[\s-]/g, '');
  // The prefix is optional when typed; a code whose own symbols begin with REF still reads right.
  if (compact.length === referralCodeSymbols + 3 && compact.startsWith('REF')) compact = compact.slice(3);
  compact = compact.replace(/[IL]/g, '1').replace(/O/g, '0');
  if (compact.length !== referralCodeSymbols || [...compact].some((symbol) => !alphabet.includes(symbol))) return undefined;
  return prefix + compact;
}
