import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Prefixed, time-ordered ids (`cus_01j…`): 10 characters of milliseconds then 16 random ones, in
 * Crockford's base 32, so ids sort by creation and say what they name.
 */
export function newId(prefix: string): string {
  let time = Date.now();
  let timePart = '';
  for (let i = 0; i < 10; i += 1) {
    timePart = alphabet[time % 32] + timePart;
    time = Math.floor(time / 32);
  }
  const random = randomBytes(16);
  let randomPart = '';
  for (const byte of random) randomPart += alphabet[byte % 32];
  return `${prefix}_${timePart}${randomPart}`;
}
