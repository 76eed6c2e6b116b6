/** Postgres error codes the repositories turn into AppErrors. */
export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (pgErrorCode(err) !== '23505') return false;
  if (constraint === undefined) return true;
  return (err as { constraint_name?: string }).constraint_name === constraint;
}
