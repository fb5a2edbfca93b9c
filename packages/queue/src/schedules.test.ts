import { describe, expect, it } from "vitest";
import { latestDueAt, nextRunAt, schedulePattern, schedulerId, scheduleIdOf } from "./schedules.js";

const at = (iso: string) => new Date(iso);

describe("schedule maths (UTC)", () => {
  it("names and patterns", () => {
    expect(schedulerId("sch_1")).toBe("schedule:sch_1");
    expect(scheduleIdOf("schedule:sch_1")).toBe("sch_1");
    expect(scheduleIdOf("other")).toBeNull();
    expect(schedulePattern({ cronHour: 3, cronMinute: 30 })).toBe("30 3 * * *");
  });

  it("latestDueAt is the latest hh:mm at or before now, across day, month and year ends", () => {
    expect(latestDueAt({ cronHour: 10, cronMinute: 0 }, at("2026-03-10T10:00:00Z"))).toEqual(at("2026-03-10T10:00:00Z"));
    expect(latestDueAt({ cronHour: 10, cronMinute: 0 }, at("2026-03-10T09:59:59.999Z"))).toEqual(at("2026-03-09T10:00:00Z"));
    expect(latestDueAt({ cronHour: 23, cronMinute: 59 }, at("2026-03-01T00:00:00Z"))).toEqual(at("2026-02-28T23:59:00Z"));
    expect(latestDueAt({ cronHour: 0, cronMinute: 0 }, at("2027-01-01T00:00:30Z"))).toEqual(at("2027-01-01T00:00:00Z"));
    expect(latestDueAt({ cronHour: 12, cronMinute: 0 }, at("2027-01-01T00:00:30Z"))).toEqual(at("2026-12-31T12:00:00Z"));
  });

  it("nextRunAt is strictly after now, null when inactive", () => {
    const timing = { cronHour: 10, cronMinute: 0, isActive: true };
    expect(nextRunAt(timing, at("2026-03-10T09:59:59Z"))).toEqual(at("2026-03-10T10:00:00Z"));
    expect(nextRunAt(timing, at("2026-03-10T10:00:00Z"))).toEqual(at("2026-03-11T10:00:00Z"));
    expect(nextRunAt({ ...timing, cronHour: 0 }, at("2026-12-31T23:00:00Z"))).toEqual(at("2027-01-01T00:00:00Z"));
    expect(nextRunAt({ ...timing, isActive: false }, at("2026-03-10T09:00:00Z"))).toBeNull();
  });
});
