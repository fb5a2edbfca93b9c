// Timestamps in responses: ISO-8601 UTC strings (Date.toISOString()). The schema says
// `format: date-time`, so generated clients type and document them as such; values are not
// re-validated on the way out (the serializers produce them).
import { z } from "zod";

export const Timestamp = z.string().meta({ format: "date-time", description: "ISO-8601 UTC timestamp" });
