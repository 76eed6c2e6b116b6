export * from './tenants.ts';
export * from './control-settings.ts';
export * from './templates.ts';
export * from './training-data.ts';
export * from './audit.ts';
export * from './users.ts';
export { isUniqueViolation, pgErrorCode } from './pg-errors.ts';
