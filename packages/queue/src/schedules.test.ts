import { CronExpressionParser } from "cron-parser";
import { describe, expect, it } from "vitest";
import { latestDueAt, nextRunAt, SCHEDULE_TZ, scheduleIdOf, schedulePattern, schedulerId } from "./schedules.js";

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

  it("nextRunAt agrees with cron-parser (what BullMQ fires by) at random instants and on the minute", () => {
    let seed = 42;
    // A small deterministic generator (mulberry32), so a failure names a reproducible instant.
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const start = at("2024-01-01T00:00:00Z").getTime();
    for (let i = 0; i < 2_000; i++) {
      const timing = { cronHour: Math.floor(random() * 24), cronMinute: Math.floor(random() * 60), isActive: true };
      const instant = start + Math.floor(random() * 4 * 365 * 86_400_000);
      // Every fourth instant exactly on the schedule's minute, where "strictly after" matters.
      const from = new Date(i % 4 === 0 ? new Date(instant).setUTCHours(timing.cronHour, timing.cronMinute, 0, 0) : instant);
      const expected = CronExpressionParser.parse(schedulePattern(timing), { currentDate: from, tz: SCHEDULE_TZ }).next().toDate();
      expect(nextRunAt(timing, from), `${JSON.stringify(timing)} from ${from.toISOString()}`).toEqual(expected);
    }
  });
});
