import { getControlSettings, listBudgetEvents, monthlyTokens, type Tx } from '@alphadome/tenant-core';
import { html, type SafeHtml } from './html.ts';

/**
 * The monthly LLM token budget as the owner should see it. The worker decides per message
 * from the current budget and this month's tokens (bot_usage_daily); it records an
 * 'alert_80' / 'exhausted' event the first time each happens in a month. An event counts
 * while the budget is not above the one it was recorded against (a raised budget lifts it).
 */
export interface BudgetStatus {
  state: 'none' | 'ok' | 'warn' | 'exhausted';
  /** null: no budget (0 or empty means no limit, as in the worker) */
  budget: number | null;
  used: number;
  /** share of the budget used, whole percent (0 without a budget) */
  percent: number;
  /** first day of next month (UTC), when the count starts again */
  resetsOn: Date;
}

export function firstOfNextMonth(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

export function formatDay(d: Date): string {
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** This month's budget status of the transaction's tenant (inside withTenant). */
export async function loadBudgetStatus(tx: Tx, tenantId: string, budgetSetting?: number | null): Promise<BudgetStatus> {
  const configured = budgetSetting !== undefined ? budgetSetting : (await getControlSettings(tx, tenantId)).monthlyTokenBudget;
  const resetsOn = firstOfNextMonth();
  const budget = configured !== null && configured > 0 ? configured : null;
  if (budget === null) return { state: 'none', budget: null, used: 0, percent: 0, resetsOn };
  const [used, events] = await Promise.all([monthlyTokens(tx), listBudgetEvents(tx)]);
  const current = events.filter((e) => e.token_budget >= budget);
  const eventUsed = Math.max(0, ...current.map((e) => e.tokens_used));
  const shown = Math.max(used, eventUsed);
  const percent = Math.floor((shown / budget) * 100);
  const state =
    shown >= budget || current.some((e) => e.kind === 'exhausted')
      ? 'exhausted'
      : shown >= 0.8 * budget || current.some((e) => e.kind === 'alert_80')
        ? 'warn'
        : 'ok';
  return { state, budget, used: shown, percent: state === 'exhausted' ? Math.max(100, percent) : percent, resetsOn };
}

/** The notice for the home and usage pages: used up, or a warning from 80 %; nothing otherwise. */
export function budgetNotice(b: BudgetStatus): SafeHtml {
  const until = formatDay(b.resetsOn);
  if (b.state === 'exhausted') {
    return html`<p class="flash err" role="alert" id="budget-notice"><strong>Your monthly AI budget is used up:</strong> the bot answers from canned replies, catalog and FAQ only until ${until}. <a href="/settings#monthlyTokenBudget">Raise the budget in Settings.</a></p>`;
  }
  if (b.state === 'warn') {
    return html`<p class="flash warn" role="status" id="budget-notice"><strong>You have used ${b.percent} % of this month's AI budget</strong> (${b.used.toLocaleString('en')} of ${(b.budget ?? 0).toLocaleString('en')} tokens). At 100 % the bot answers from canned replies, catalog and FAQ only until ${until}. <a href="/settings#monthlyTokenBudget">Raise the budget in Settings.</a></p>`;
  }
  return html``;
}
