import { isSafeNumber, parse } from 'lossless-json';
import { AppError } from './app-error.ts';

/**
 * Parses channel JSON without losing precision: Shopify ids exceed 2^53 (820982911946154508), and
 * plain JSON.parse would round them. Integers beyond the safe range come back as decimal strings;
 * every other number as a JS number.
 */
export function parseJsonSafely(text: string): unknown {
  try {
    return parse(text, null, (value: string) => (isSafeNumber(value) ? Number(value) : value));
  } catch (error) {
    throw new AppError('request.malformed_json', `The body is not valid JSON: ${(error as Error).message}`);
  }
}
