import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
const timeLength = 10;
const randomLength = 16;

let lastTime = -1;
let lastRandom: number[] = [];

function nextRandomDigits(time: number): number[] {
  if (time === lastTime) {
    // Monotonic within a millisecond: the previous random part plus one, so ids made in the same
    // millisecond by this process still sort in the order they were made.
    const digits = [...lastRandom];
    for (let index = digits.length - 1; index >= 0; index -= 1) {
      if (digits[index]! < 31) {
        digits[index]! += 1;
        return digits;
      }
      digits[index] = 0;
    }
  }
  return [...randomBytes(randomLength)].map((byte) => byte % 32);
}

/**
 * Prefixed, time-ordered ids (`cus_01j…`): 10 characters of milliseconds then 16 random ones, in
 * Crockford's base 32, so ids sort by creation (strictly, within one process) and say what they name.
 */
export function newId(prefix: string): string {
  const now = Date.now();
  const time = Math.max(now, lastTime);
  const digits = nextRandomDigits(time);
  lastTime = time;
  lastRandom = digits;
  let timePart = '';
  let remaining = time;
  for (let index = 0; index < timeLength; index += 1) {
    timePart = alphabet[remaining % 32] + timePart;
    remaining = Math.floor(remaining / 32);
  }
  return `${prefix}_${timePart}${digits.map((digit) => alphabet[digit]).join('')}`;
}
