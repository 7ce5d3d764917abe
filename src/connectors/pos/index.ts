/**
 * The register connector: registers that talk to Continuum directly. Live sales, returns and
 * lookups go through the REST routes; this folder holds store-and-forward for a register that was
 * offline (docs/pos-offline.md): its upload format, the order operations apply in, and the outcome
 * of each, with conflicts raised for a person.
 * Example: `await applyOfflineUpload(db, merchant, { register_id: 'REG-1', location_id, ops })`.
 */
export * from './types.ts';
export * from './translate.ts';
export * from './offline-upload.ts';
