import { randomInt } from 'node:crypto';

// Loyalty codes are typed at registers and read off phones: Crockford's base-32 alphabet (no I, L,
// O or U, so nothing is confused with 1, 0 or V), eight random symbols and one check symbol by the
// Luhn mod N algorithm, which catches every single mistyped symbol and every swap of two neighbours
// but one: 0 and Z (the first and last symbols) swapped leave the sum unchanged, as 09 and 90 do in
// Luhn's decimal form. Codes are therefore drawn without 0 next to Z, so every swap of two
// neighbours in an issued code fails the check. Codes already issued keep reading as they did.
// Printed as "XXX-XXX-XXX"; dashes, spaces and case are ignored when typed.

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const base = alphabet.length;
const payloadLength = 8;

function codePoint(symbol: string): number {
  const index = alphabet.indexOf(symbol);
  if (index < 0) throw new Error(`not a loyalty code symbol: ${symbol}`);
  return index;
}

/** Luhn mod N check symbol over the payload. */
function checkSymbol(payload: string): string {
  let sum = 0;
  let double = true;
  for (let index = payload.length - 1; index >= 0; index -= 1) {
    let addend = codePoint(payload[index]!) * (double ? 2 : 1);
    addend = Math.floor(addend / base) + (addend % base);
    sum += addend;
    double = !double;
  }
  return alphabet[(base - (sum % base)) % base]!;
}

function format(code: string): string {
  return `${code.slice(0, 3)}-${code.slice(3, 6)}-${code.slice(6)}`;
}

/** True when 0 and Z stand side by side: the one swap of neighbours Luhn mod N cannot see. */
function hasUndetectableSwap(code: string): boolean {
  return code.includes('0Z') || code.includes('Z0');
}

export function generateLoyaltyCode(): string {
  // About one draw in 65 holds 0 next to Z; drawing again keeps the symbols uniformly random
  // among the codes that remain.
  for (;;) {
    let payload = '';
    for (let index = 0; index < payloadLength; index += 1) payload += alphabet[randomInt(base)];
    const code = payload + checkSymbol(payload);
    if (!hasUndetectableSwap(code)) return format(code);
  }
}

/**
 * Reads a code as someone typed or scanned it: ignores case, dashes and spaces, reads I and L as 1
 * and O as 0. Returns the canonical printed form, or undefined when it is not a valid code (a
 * mistyped symbol fails the check).
 */
export function parseLoyaltyCode(typed: string): string | undefined {
  const compact = typed.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (compact.length !== payloadLength + 1 || [...compact].some((symbol) => !alphabet.includes(symbol))) return undefined;
  const payload = compact.slice(0, payloadLength);
  return checkSymbol(payload) === compact.slice(payloadLength) ? format(compact) : undefined;
}
