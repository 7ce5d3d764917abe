import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { assert } from '../shared/app-error.ts';

// Staff passwords are kept as scrypt hashes (RFC 7914), each with its own random salt, in one text
// field that names its parameters: `scrypt$N$r$p$salt$hash` (salt and hash base64url). A later,
// costlier setting then applies to new hashes while the old ones still verify.

const cost = { N: 16_384, r: 8, p: 1 } as const;
const saltBytes = 16;
const hashBytes = 64;
// Bounds on what a stored hash may ask for, so a tampered row cannot make a sign-in burn the machine.
const costNMax = 1 << 20;
const costRMax = 32;
const costPMax = 4;
const memoryBytesMax = 256 * 1024 * 1024;

function deriveKey(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem: memoryBytesMax }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Hashes a password with a fresh salt. Runs on libuv's thread pool, not the event loop. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await deriveKey(password, salt, cost, hashBytes);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when the password is the one hashed; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  assert(scheme === 'scrypt' && n && r && p && salt && hash, 'a stored password hash has the form scrypt$N$r$p$salt$hash');
  const options = { N: Number(n), r: Number(r), p: Number(p) };
  assert(Number.isSafeInteger(options.N) && options.N > 1 && options.N <= costNMax && (options.N & (options.N - 1)) === 0, 'scrypt N is a power of two within bounds');
  assert(Number.isSafeInteger(options.r) && options.r >= 1 && options.r <= costRMax && Number.isSafeInteger(options.p) && options.p >= 1 && options.p <= costPMax, 'scrypt r and p are within bounds');
  const expected = Buffer.from(hash, 'base64url');
  assert(expected.length >= 16 && expected.length <= 128, 'a stored password hash holds 16 to 128 bytes');
  const actual = await deriveKey(password, Buffer.from(salt, 'base64url'), options, expected.length);
  return timingSafeEqual(actual, expected);
}

let decoyHash: Promise<string> | undefined;

/**
 * A hash of no one's password, verified when a sign-in names an unknown email, so an unknown email
 * takes as long to refuse as a wrong password and the answer time tells no one who has an account.
 */
export function passwordDecoyHash(): Promise<string> {
  decoyHash ??= hashPassword(randomBytes(32).toString('base64url'));
  return decoyHash;
}
