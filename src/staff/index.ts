/**
 * The people who use the staff console, their passwords and their sessions (issue #8).
 * Example: `const result = await signInStaff(db, { email: 'manager@shop.example', password, merchantId: null })`.
 */
export * from './staff-service.ts';
export * from './staff-sessions.ts';
export * from './sign-in-limiter.ts';
export { hashPassword, verifyPassword } from './password-hash.ts';
