// The one place API failures become words: the API's `{ error }` message, "when to retry" for
// 429, and "not reached" for network failures.
import { describeError } from "@capy/sdk";

export const isUnauthorized = (error: unknown) => describeError(error).status === 401;

export function errorText(error: unknown): string {
  const { status, message, retryAfterSeconds } = describeError(error);
  if (status === 429) {
    return retryAfterSeconds === null
      ? "Too many requests. Wait a moment, then try again."
      : `Too many requests. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}.`;
  }
  if (status === undefined) return "The API could not be reached. Check your connection, then try again.";
  return message;
}
