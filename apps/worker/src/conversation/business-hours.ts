/**
 * Business hours: a weekly schedule in the tenant's time zone, e.g.
 * `{"mon":[["09:00","18:00"]], "sat":[["09:00","13:00"]]}` (a day that is missing or empty is
 * closed; an interval that ends before it starts runs past midnight; "24:00" is the end of day).
 * No schedule → always open.
 *
 * Everything is computed on the local wall clock (the time zone's date and time read as if UTC),
 * so no offset arithmetic is needed. A closed period is identified by the local time it began
 * (the end of the last open interval): the away message goes out at most once per such key.
 */
export type WeeklySchedule = Partial<Record<DayKey, [string, string][]>>;
type DayKey = 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';
const DAYS: DayKey[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_MS = 86_400_000;

export interface HoursStatus {
  open: boolean;
  /** identifies the current closed period (null when open) */
  closedPeriod: string | null;
}

const hhmm = (s: unknown): number | null => {
  if (typeof s !== 'string') return null;
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 24 || min > 59 || (h === 24 && min > 0)) return null;
  return (h * 60 + min) * 60_000;
};

/** Parse a business_hours value; null when absent or unusable (then: always open). */
export function parseSchedule(v: unknown): WeeklySchedule | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const out: WeeklySchedule = {};
  let any = false;
  for (const [k, intervals] of Object.entries(v as Record<string, unknown>)) {
    const day = k.slice(0, 3).toLowerCase() as DayKey;
    if (!DAYS.includes(day) || !Array.isArray(intervals)) continue;
    const list: [string, string][] = [];
    for (const iv of intervals) {
      if (Array.isArray(iv) && hhmm(iv[0]) !== null && hhmm(iv[1]) !== null) list.push([iv[0] as string, iv[1] as string]);
    }
    out[day] = list;
    any = true;
  }
  return any ? out : null;
}

/** The wall-clock time in a time zone, as a Date whose UTC fields are the local ones. */
export function localWallClock(now: Date, timeZone: string): Date {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(now);
  } catch {
    return localWallClock(now, 'UTC');
  }
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return new Date(Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second')));
}

export function hoursStatus(schedule: WeeklySchedule | null, timeZone: string, now: Date = new Date()): HoursStatus {
  if (!schedule) return { open: true, closedPeriod: null };
  const local = localWallClock(now, timeZone).getTime();
  const today = Math.floor(local / DAY_MS) * DAY_MS;
  // the open intervals from 8 days back to today, in local wall-clock ms
  const intervals: [number, number][] = [];
  for (let d = -8; d <= 0; d++) {
    const dayStart = today + d * DAY_MS;
    const key = DAYS[new Date(dayStart).getUTCDay()]!;
    for (const [a, b] of schedule[key] ?? []) {
      const start = dayStart + hhmm(a)!;
      let end = dayStart + hhmm(b)!;
      if (end <= start) end += DAY_MS; // past midnight
      intervals.push([start, end]);
    }
  }
  if (intervals.some(([s, e]) => s <= local && local < e)) return { open: true, closedPeriod: null };
  const lastEnd = intervals.filter(([, e]) => e <= local).reduce((m, [, e]) => Math.max(m, e), 0);
  // never open in the last week: one closed period per local week
  const key = lastEnd > 0 ? new Date(lastEnd).toISOString().slice(0, 16) : `week-${Math.floor(local / (7 * DAY_MS))}`;
  return { open: false, closedPeriod: key };
}
