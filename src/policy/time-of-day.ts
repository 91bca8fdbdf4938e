// time-of-day.ts — wall-clock time in an IANA time zone, for `timeOfDay` conditions. Everything is
// computed from an entry time (Unix ms) passed in, never from a clock. ECMA-402's Intl.DateTimeFormat
// with an explicit timeZone is a pure function of the instant and the time zone database (tzdata)
// that Node's ICU carries, so every node running the same Node build reads the same wall clock for the
// same entry time. (A cluster whose nodes run different tzdata could disagree around a rule change of
// a zone; docs in cluster/policies/README.md say so.)

import assert from 'node:assert/strict';
import { TIME_OF_DAY_PATTERN, TIMEZONE_CACHE_MAX, TIMEZONE_PATTERN } from './constants.js';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 24 * 60;

/** formatters caches one Intl formatter per time zone (bounded; a cache, not state). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let format = formatters.get(timezone);
  if (format === undefined) {
    if (formatters.size >= TIMEZONE_CACHE_MAX) formatters.clear();
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timezone, format);
  }
  return format;
}

/** parseTimeOfDay reads "HH:MM" as minutes after midnight, or undefined when it is not one. */
export function parseTimeOfDay(text: string): number | undefined {
  const match = TIME_OF_DAY_PATTERN.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * checkTimezone returns undefined for an IANA time zone name this runtime knows, spelled as it knows
 * it, or a description of what is wrong (with the spelling Intl suggests, when there is one).
 */
export function checkTimezone(name: string): string | undefined {
  if (!TIMEZONE_PATTERN.test(name)) return 'not an IANA time zone name (e.g. Europe/Berlin, UTC)';
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return 'a time zone this node\'s time zone database does not know';
  }
  if (resolved === name || Intl.supportedValuesOf('timeZone').includes(name)) return undefined;
  return `not the spelling of the time zone database (it knows "${resolved}")`;
}

/** WallClock is an instant read in a time zone: the minute of the day, how far into that minute, and the UTC offset. */
export interface WallClock {
  minuteOfDay: number;
  msIntoMinute: number;
  offsetMs: number;
}

/** wallClock reads the instant `timeMs` (Unix ms, >= 0) in `timezone`. */
export function wallClock(timeMs: number, timezone: string): WallClock {
  assert.ok(Number.isSafeInteger(timeMs) && timeMs >= 0, 'wallClock: a non-negative integer time');
  const parts: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(timeMs)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const { year, month, day, second } = parts as Record<'year' | 'month' | 'day' | 'second', number>;
  const hour = (parts['hour'] ?? 0) % 24;
  const minute = parts['minute'] ?? 0;
  const millis = timeMs % 1000;
  const offsetMs = Date.UTC(year, month - 1, day, hour, minute, second) - (timeMs - millis);
  assert.ok(Number.isSafeInteger(offsetMs), `wallClock: ${timezone} gives a whole offset at ${timeMs}`);
  return { minuteOfDay: hour * 60 + minute, msIntoMinute: second * 1000 + millis, offsetMs };
}

/** timeOfDayHolds says whether a minute of the day is in [from, to), wrapping past midnight when from > to. */
export function timeOfDayHolds(minuteOfDay: number, fromMinute: number, toMinute: number): boolean {
  assert.ok(fromMinute !== toMinute, 'timeOfDayHolds: from and to differ (validated)');
  return fromMinute < toMinute
    ? minuteOfDay >= fromMinute && minuteOfDay < toMinute
    : minuteOfDay >= fromMinute || minuteOfDay < toMinute;
}

/**
 * nextBoundaryMs is the first instant after `timeMs` at which a window with the given boundaries
 * (minutes of the day) in `timezone` may change truth: the next time the wall clock reaches a
 * boundary, or an earlier change of the zone's UTC offset (a daylight-saving switch skips or repeats
 * wall-clock time, so the truth can change there). Always > timeMs.
 */
export function nextBoundaryMs(timeMs: number, timezone: string, boundaryMinutes: readonly number[]): number {
  assert.ok(boundaryMinutes.length > 0, 'nextBoundaryMs: at least one boundary');
  const now = wallClock(timeMs, timezone);
  let best = Number.MAX_SAFE_INTEGER;
  for (const boundary of boundaryMinutes) {
    const minutes = (boundary - now.minuteOfDay + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES;
    best = Math.min(best, timeMs - now.msIntoMinute + minutes * MINUTE_MS);
  }
  assert.ok(best > timeMs, 'nextBoundaryMs: the next boundary lies ahead');
  if (wallClock(best, timezone).offsetMs === now.offsetMs) return best;
  // The offset changes in (timeMs, best]: find the first instant with the new offset (bisection, at
  // most ~27 steps over a day), where the wall clock jumps.
  let before = timeMs;
  let after = best;
  for (let guard = 0; after - before > 1 && guard < 64; guard++) {
    const middle = Math.floor((before + after) / 2);
    if (wallClock(middle, timezone).offsetMs === now.offsetMs) before = middle;
    else after = middle;
  }
  return after;
}
