import { randomFillSync } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
const timeLength = 10;
const randomLength = 16;

let lastTime = -1;
let lastRandom: number[] = [];

// Random bytes are drawn from the system 4 KiB at a time rather than 16 per id: one call to the
// system's generator per 256 ids (an order writes about ten ids; found by bench/orders-end-to-end.ts).
const randomPool = Buffer.alloc(4096);
let randomPoolOffset = randomPool.length;

function randomDigits(): number[] {
  if (randomPoolOffset + randomLength > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const digits = new Array<number>(randomLength);
  for (let index = 0; index < randomLength; index += 1) digits[index] = randomPool[randomPoolOffset + index]! % 32;
  randomPoolOffset += randomLength;
  return digits;
}

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
  return randomDigits();
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
