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

/**
 * A JSON number (after `:`, `[` or `,`, or the whole text) of 16 or more digits and points, or with an exponent: the
 * only numbers JSON.parse may read differently from `parseJsonSafely` (a number of at most 15
 * significant digits is read exactly by both). A string that merely looks like one only sends the
 * text through the exact scan below.
 */
const possiblyInexactNumber = /(?:^|[:[,])\s*-?(?:[0-9.]{16,}|[0-9.]+[eE])/;

const quote = 0x22;
const backslash = 0x5c;
const minus = 0x2d;
const zero = 0x30;
const nine = 0x39;
const colon = 0x3a;
const comma = 0x2c;
const openBracket = 0x5b;
const closeBracket = 0x5d;
const openBrace = 0x7b;
const closeBrace = 0x7d;

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function isNumberStart(code: number): boolean {
  return code === minus || (code >= zero && code <= nine);
}

// Characters a JSON number token is made of: digits, sign, point and exponent.
function isNumberPart(code: number): boolean {
  return (code >= zero && code <= nine) || code === minus || code === 0x2b || code === 0x2e || code === 0x65 || code === 0x45;
}

/** Where the string that opens at `start` (a quote) closes: the index after its closing quote. */
function endOfString(text: string, start: number): number {
  let at = start + 1;
  for (;;) {
    const close = text.indexOf('"', at);
    if (close < 0) return text.length;
    let backslashes = 0;
    for (let before = close - 1; text.charCodeAt(before) === backslash; before -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return close + 1;
    at = close + 1;
  }
}

/**
 * The same answer as `parseJsonSafely` (numbers JSON.parse would read inexactly come back as their
 * decimal text), several times faster on a channel's large bodies: the text is scanned once for
 * such numbers outside strings, those are put in quotes, and JSON.parse reads the rest (a 13 KB
 * Shopify order with 18-digit ids: lossless-json took ~0.3 ms of an order's CPU, found by
 * bench/orders-end-to-end.ts, issue #9). One difference, on bodies channels never send: a key
 * given twice is read as JSON.parse reads it (the last wins) rather than refused.
 */
export function parseJsonExactly(text: string): unknown {
  // Most bodies have no number JSON.parse could misread: then JSON.parse alone reads them.
  if (!possiblyInexactNumber.test(text)) return parseOrExplain(text);
  const pieces: string[] = [];
  let copiedUpTo = 0;
  let at = 0;
  // Where the scan is: the open containers (an object's key position must stay a number, so a
  // body that is not JSON is still refused), and the last character outside strings and spaces.
  const containers: number[] = [];
  let previous = -1;
  while (at < text.length) {
    const code = text.charCodeAt(at);
    if (code === quote) {
      at = endOfString(text, at);
      previous = quote;
      continue;
    }
    if (!isNumberStart(code)) {
      if (code === openBrace || code === openBracket) containers.push(code);
      else if (code === closeBrace || code === closeBracket) containers.pop();
      if (!isWhitespace(code)) previous = code;
      at += 1;
      continue;
    }
    const start = at;
    while (at < text.length && isNumberPart(text.charCodeAt(at))) at += 1;
    const isValue = previous === -1 || previous === colon || previous === openBracket || (previous === comma && containers.at(-1) === openBracket);
    previous = zero;
    // Up to 15 significant digits every parser reads exactly; only longer numbers are checked.
    if (isValue && (at - start > 15 || /[eE]/.test(text.slice(start, at)))) {
      const token = text.slice(start, at);
      if (!isSafeNumber(token)) {
        pieces.push(text.slice(copiedUpTo, start), '"', token, '"');
        copiedUpTo = at;
      }
    }
  }
  return parseOrExplain(copiedUpTo === 0 ? text : pieces.join('') + text.slice(copiedUpTo), text);
}

/**
 * JSON.parse, numbers beyond 2^53 rounded: for a body read only for what such a number cannot be
 * (a webhook's resource key from a GraphQL id, a Square envelope's strings). A text that is not
 * JSON gets the same refusal as from `parseJsonExactly`.
 */
export function parseJsonRounded(text: string): unknown {
  return parseOrExplain(text);
}

/** JSON.parse, or for a text that is not JSON the safe parser's refusal, which says why. */
function parseOrExplain(text: string, original = text): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return parseJsonSafely(original);
  }
}
