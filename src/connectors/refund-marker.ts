/**
 * The marker a refund pushed to a channel carries, so the channel's own refund webhook for it is
 * recognised as our echo and linked to the return instead of being recorded a second time. It rides
 * in the one free-text field each channel keeps on a refund and sends back in its webhook: Shopify's
 * refund `note` (RefundInput.note, `refunds/create`.note) and Square's refund `reason`
 * (RefundPayment.reason, `refund.*` data.object.refund.reason).
 */

const MARKER_PREFIX = 'Continuum return';
/** A return id as `newId('ret')` makes it: `ret_`, 10 time and 16 random symbols of Crockford's base 32. */
const RETURN_ID_PATTERN = 'ret_[0-9a-hjkmnp-tv-z]{26}';
const MARKER_PATTERN = new RegExp(`(?:^|[^0-9A-Za-z_])${MARKER_PREFIX} (${RETURN_ID_PATTERN})(?![0-9A-Za-z_])`);

/**
 * The text a pushed refund carries for the return it pays back.
 * Example: formatRefundMarker('ret_01jd2x8v9k3m4n5p6q7r8s9t0v') → 'Continuum return ret_01jd2x8v9k3m4n5p6q7r8s9t0v'.
 */
export function formatRefundMarker(returnId: string): string {
  if (!new RegExp(`^${RETURN_ID_PATTERN}$`).test(returnId)) throw new Error(`Assertion failed: ${returnId} is not a return id`);
  return `${MARKER_PREFIX} ${returnId}`;
}

/**
 * The return id a channel refund's note or reason names, or null when it carries no marker (a
 * refund someone made in the channel itself). Text around the marker is allowed: a person may add
 * to the note in the channel's admin.
 * Example: parseRefundMarker('Continuum return ret_01jd2x8v9k3m4n5p6q7r8s9t0v') → 'ret_01jd2x8v9k3m4n5p6q7r8s9t0v'.
 */
export function parseRefundMarker(text: string | null | undefined): string | null {
  if (!text) return null;
  return MARKER_PATTERN.exec(text)?.[1] ?? null;
}
