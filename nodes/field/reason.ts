/**
 * The message of an error from a native addon or another realm (where `instanceof Error` is
 * false), without the "Error: " prefix that String() would add.
 */
export function reason(err: unknown): string {
  const m = err !== null && typeof err === 'object' ? (err as { message?: unknown }).message : undefined;
  return typeof m === 'string' ? m : String(err);
}

/** An Error for anything thrown; errors of this realm pass through as they are. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(reason(err));
}
