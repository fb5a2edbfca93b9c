// Timestamps in responses: ISO-8601 UTC strings (Date.toISOString(), built by isoTimestamp). The
// schema says `format: date-time`, so generated clients type and document them as such; values
// are not re-validated on the way out (the serializers produce them).
import { z } from "zod";

export const Timestamp = z.string().meta({ format: "date-time", description: "ISO-8601 UTC timestamp" });

const twoDigits = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const threeDigits = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * Exactly `date.toISOString()`, built from the date's UTC fields: 121 ns a value against 320 here
 * (Node 20). A page of 30 jobs serializes 150 timestamps, and toISOString was 16 % of the API's
 * CPU for GET /v1/projects/{id}/jobs (bench/api-throughput --cpu-prof). Years outside 1000-9999
 * (toISOString's six-digit forms) and invalid dates (it throws RangeError) go to toISOString.
 */
export function isoTimestamp(date: Date): string {
  const year = date.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return date.toISOString();
  const time = `${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())}:${twoDigits(date.getUTCSeconds())}.${threeDigits(date.getUTCMilliseconds())}`;
  return `${year}-${twoDigits(date.getUTCMonth() + 1)}-${twoDigits(date.getUTCDate())}T${time}Z`;
}

export const isoTimestampOrNull = (date: Date | null): string | null => (date ? isoTimestamp(date) : null);
