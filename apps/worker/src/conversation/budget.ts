/**
 * LLM cost estimates and the monthly token budget. Prices in USD per million tokens
 * (input, output), list prices as of 2025; an unknown model is priced like gpt-4o-mini.
 */
const PRICES: Record<string, [number, number]> = {
  'gpt-4o-mini': [0.15, 0.6],
  'gpt-4o': [2.5, 10],
  'gpt-4.1': [2, 8],
  'gpt-4.1-mini': [0.4, 1.6],
  'gpt-4.1-nano': [0.1, 0.4],
  'gpt-5': [1.25, 10],
  'gpt-5-mini': [0.25, 2],
  'gpt-5-nano': [0.05, 0.4],
  'gpt-3.5-turbo': [0.5, 1.5],
};

export function estimateCostUsd(model: string, promptTokens: number, completionTokens: number): number {
  const key = Object.keys(PRICES)
    .filter((k) => model === k || model.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  const [inPrice, outPrice] = PRICES[key ?? 'gpt-4o-mini']!;
  return Math.round(((promptTokens * inPrice + completionTokens * outPrice) / 1_000_000) * 1e6) / 1e6;
}

export type BudgetState = 'ok' | 'warn' | 'exhausted';

export function budgetState(used: number, budget: number | null): BudgetState {
  if (budget === null || budget <= 0) return 'ok';
  if (used >= budget) return 'exhausted';
  if (used >= 0.8 * budget) return 'warn';
  return 'ok';
}
