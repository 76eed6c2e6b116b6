import { AppError } from '@alphadome/tenant-core';

/**
 * The settings form's business hours ⇄ bot_control_settings.business_hours, the weekly schedule
 * the worker reads (apps/worker/src/conversation/business-hours.ts):
 * `{"mon":[["09:00","18:00"]], …}`; a missing or empty day is closed; no schedule = always open.
 * In the form a day is a line such as `09:00-13:00, 14:00-18:00` (empty = closed).
 */
export const DAYS = [
  ['mon', 'Monday'],
  ['tue', 'Tuesday'],
  ['wed', 'Wednesday'],
  ['thu', 'Thursday'],
  ['fri', 'Friday'],
  ['sat', 'Saturday'],
  ['sun', 'Sunday'],
] as const;
export type DayKey = (typeof DAYS)[number][0];
export type Schedule = Partial<Record<DayKey, [string, string][]>>;

const time = /^([01]?\d|2[0-4]):([0-5]\d)$/;

export function parseDay(label: string, text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\S+)\s*[-–]\s*(\S+)$/.exec(part);
    const [from, to] = [m?.[1] ?? '', m?.[2] ?? ''];
    if (!time.test(from) || !time.test(to)) {
      throw new AppError('bad_request', `${label}: write hours like 09:00-18:00 (several separated by commas), or leave empty for closed`);
    }
    const pad = (s: string) => s.padStart(5, '0');
    out.push([pad(from), pad(to)]);
  }
  return out;
}

export function scheduleFromForm(f: (name: string) => string): Schedule | null {
  if (f('hoursEnabled') !== '1') return null;
  const schedule: Schedule = {};
  for (const [key, label] of DAYS) schedule[key] = parseDay(label, f(`hours_${key}`));
  return schedule;
}

export function dayText(schedule: unknown, key: DayKey): string {
  if (typeof schedule !== 'object' || schedule === null) return '';
  const v = (schedule as Record<string, unknown>)[key];
  if (!Array.isArray(v)) return '';
  return v
    .filter((iv): iv is [string, string] => Array.isArray(iv) && typeof iv[0] === 'string' && typeof iv[1] === 'string')
    .map(([a, b]) => `${a}-${b}`)
    .join(', ');
}
