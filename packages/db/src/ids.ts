// Resource ids: a readable prefix plus a ULID (time-ordered, 128 bits), e.g. job_01jd…
import { ulid } from "ulidx";

export type IdPrefix = "org" | "cls" | "prj" | "job" | "bkp" | "sch" | "key" | "enk" | "rcp" | "aud" | "evt" | "pvw" | "whk" | "dlv";

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}
