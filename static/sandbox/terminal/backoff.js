/*
 * How long to wait before the n-th automatic reconnect: 1 s, 2 s, 4 s … up to 30 s, with ±20 %
 * jitter so a restarted server is not hit by every page in the same instant.
 */

export const BACKOFF_FIRST = 1_000; // ms
export const BACKOFF_MAX = 30_000;

export function backoffDelay(attempt, random) {
  const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempt - 1));
  return delay * (0.8 + random() * 0.4);
}
