// Checks normalizePhone's North American fast path (src/customers/normalize-identifier.ts) against
// libphonenumber's full parse: for each country sharing +1 as the merchant's country, every area
// code and exchange from 200 to 999 with two line numbers, wherever the number is valid in that
// country (where the fast path answers), normalizePhone must give what the full parse gives, typed
// as ten digits, as +1 (613) 555-0142 and as 1-613-555-0142. About three minutes; run it after
// updating libphonenumber-js:
//
//   node --import tsx scripts/check-phone-fast-path.ts [CA,US]
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { nationalNumberE164, normalizePhone, northAmericanCountries } from '../src/customers/normalize-identifier.ts';

const countries = process.argv[2] ? process.argv[2].split(',') : [...northAmericanCountries];
let mismatches = 0;
for (const country of countries) {
  let checked = 0;
  const mismatchesBefore = mismatches;
  for (let area = 200; area <= 999; area += 1) {
    for (let exchange = 200; exchange <= 999; exchange += 1) {
      for (const line of ['0142', '9876']) {
        const national = `${area}${exchange}${line}`;
        if (nationalNumberE164(country, national) === undefined) continue;
        checked += 1;
        for (const typed of [national, `+1 (${area}) ${exchange}-${line}`, `1-${area}-${exchange}-${line}`]) {
          const parsed = parsePhoneNumberFromString(typed, country as CountryCode);
          const full = parsed?.isValid() ? parsed.number : typed;
          const fast = normalizePhone(typed, country).normalized;
          if (fast !== full) {
            mismatches += 1;
            if (mismatches <= 10) console.log(`MISMATCH in ${country}: ${typed} gives ${fast}, the full parse ${full}`);
          }
        }
      }
    }
  }
  console.log(`${country}: ${checked} numbers valid there, ${mismatches - mismatchesBefore} not as the full parse gives`);
}
if (mismatches > 0) {
  console.log(`${mismatches} mismatches`);
  process.exit(1);
}
