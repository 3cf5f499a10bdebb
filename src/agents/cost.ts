import pricing from './pricing.json' with { type: 'json' };

/**
 * What model usage costs, in USD. Prices come from `pricing.json` (Anthropic's pricing page; its
 * `source` and `date` say which copy). Pure arithmetic, so the task board, the budget checks and
 * `## Result` sections all price usage the same way; attempt-cost.ts reads the usage from disk.
 *
 * A model without a price makes a cost *unknown* (`undefined`), never 0: a run that spent money must
 * not read as free.
 */

/** Rates for one model, USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** 5-minute prompt-cache write. */
  cacheWrite: number;
  /** Prompt-cache hit or refresh. */
  cacheRead: number;
  /**
   * Rates for a whole request whose input (input + cache writes + cache reads) exceeds
   * `thresholdTokens` (Sonnet 4 and 4.5 with the 1M context window).
   */
  longContext?: {
    thresholdTokens: number;
    input: number;
    output: number;
    cacheWrite: number;
    cacheRead: number;
  };
}

/** Token counts of one Messages API response, as its `usage` object names them. */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** One `usage` line of an attempt's `events.jsonl` (DESIGN.md, "Agent status protocol"): one request. */
export interface UsageEvent extends TokenUsage {
  ts?: string | number;
  type: 'usage';
  model: string;
}

/** Token totals over many requests. */
export interface TokenTotals {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

/**
 * The cost of an attempt, a task or a session. `usd` is the total when every part is priced;
 * otherwise it is undefined and `knownUsd` is the part that could be priced (a lower bound).
 */
export interface CostSummary {
  usd: number | undefined;
  knownUsd: number;
  /** Models seen in usage events that have no price, sorted. */
  unknownModels: string[];
  /** Parts run by an agent that reports no usage at all (Codex, Aider, a shell...): their spend is unknown. */
  unreported: number;
  tokens: TokenTotals;
  /** Usage events counted. */
  requests: number;
}

interface PriceEntry extends ModelPrice {
  aliases?: string[];
}

const TOKENS_PER_UNIT = 1_000_000;
/** A dated model id: `claude-sonnet-4-5-20250929` is `claude-sonnet-4-5` released 2025-09-29. */
const DATE_SUFFIX = /-\d{8}$/;

const PRICES: ReadonlyMap<string, ModelPrice> = (() => {
  const map = new Map<string, ModelPrice>();
  for (const [id, entry] of Object.entries(pricing.models as Record<string, PriceEntry>)) {
    const { aliases, ...price } = entry;
    map.set(id, price);
    for (const alias of aliases ?? []) map.set(alias, price);
  }
  return map;
})();

/** Where the prices come from and when they were read: `{ source: URL, date: YYYY-MM-DD }`. */
export const PRICING_SOURCE: { readonly source: string; readonly date: string } = {
  source: pricing.source,
  date: pricing.date,
};

/**
 * The price of a model id: exact id, alias, or id with a `-YYYYMMDD` date suffix.
 * Deliberately no looser prefix match: `claude-opus-4-9` must not borrow `claude-opus-4`'s price.
 *
 * @returns undefined for a model without a known price
 */
export function priceFor(model: string): ModelPrice | undefined {
  const id = model.trim().toLowerCase();
  return PRICES.get(id) ?? PRICES.get(id.replace(DATE_SUFFIX, ''));
}

function count(n: number | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * The cost of one request in USD.
 *
 * @returns undefined when the model has no price (never 0 for an unknown model)
 */
export function costOfUsage(model: string, usage: TokenUsage): number | undefined {
  const price = priceFor(model);
  if (!price) return undefined;
  const input = count(usage.input_tokens);
  const output = count(usage.output_tokens);
  const cacheWrite = count(usage.cache_creation_input_tokens);
  const cacheRead = count(usage.cache_read_input_tokens);
  const long = price.longContext;
  const rates = long && input + cacheWrite + cacheRead > long.thresholdTokens ? long : price;
  return (
    (input * rates.input +
      output * rates.output +
      cacheWrite * rates.cacheWrite +
      cacheRead * rates.cacheRead) /
    TOKENS_PER_UNIT
  );
}

function emptyTotals(): TokenTotals {
  return { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 };
}

/**
 * Sums the usage events of one attempt. Events of other types are ignored, so a whole
 * `events.jsonl` may be passed.
 *
 * @param options.reportsUsage false for an agent that writes no usage events: with no events its
 *   cost is unknown rather than $0
 */
export function summarizeCost(
  events: Iterable<{ type: string }>,
  options: { reportsUsage?: boolean } = {},
): CostSummary {
  const tokens = emptyTotals();
  const unknown = new Set<string>();
  let knownUsd = 0;
  let requests = 0;
  for (const event of events) {
    if (!isUsageEvent(event)) continue;
    requests++;
    tokens.input += count(event.input_tokens);
    tokens.output += count(event.output_tokens);
    tokens.cacheWrite += count(event.cache_creation_input_tokens);
    tokens.cacheRead += count(event.cache_read_input_tokens);
    const usd = costOfUsage(event.model, event);
    if (usd === undefined) unknown.add(event.model);
    else knownUsd += usd;
  }
  const unreported = options.reportsUsage === false && requests === 0 ? 1 : 0;
  const unknownModels = [...unknown].sort();
  return {
    usd: unknownModels.length === 0 && unreported === 0 ? knownUsd : undefined,
    knownUsd,
    unknownModels,
    unreported,
    tokens,
    requests,
  };
}

/**
 * A cost known only as a total (a recorded attempt or judge spend): `usd` undefined means unknown,
 * with nothing known of it.
 */
export function costOfUsd(usd: number | undefined): CostSummary {
  return {
    usd,
    knownUsd: usd ?? 0,
    unknownModels: [],
    unreported: 0,
    tokens: emptyTotals(),
    requests: 0,
  };
}

/**
 * Adds up parts: the attempts of a task, or the tasks of a session. The total is unknown when any
 * part is, and `knownUsd` still sums every part that is known.
 */
export function combineCosts(parts: Iterable<CostSummary>): CostSummary {
  const tokens = emptyTotals();
  const unknown = new Set<string>();
  let knownUsd = 0;
  let unreported = 0;
  let requests = 0;
  let allKnown = true;
  for (const part of parts) {
    knownUsd += part.knownUsd;
    unreported += part.unreported;
    requests += part.requests;
    for (const model of part.unknownModels) unknown.add(model);
    if (part.usd === undefined) allKnown = false;
    tokens.input += part.tokens.input;
    tokens.output += part.tokens.output;
    tokens.cacheWrite += part.tokens.cacheWrite;
    tokens.cacheRead += part.tokens.cacheRead;
  }
  return {
    usd: allKnown ? knownUsd : undefined,
    knownUsd,
    unknownModels: [...unknown].sort(),
    unreported,
    tokens,
    requests,
  };
}

/** True for a well-formed usage event: a model name and non-negative token counts. */
export function isUsageEvent(value: unknown): value is UsageEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  const isCount = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  const isOptionalCount = (n: unknown) => n === undefined || n === null || isCount(n);
  return (
    event.type === 'usage' &&
    typeof event.model === 'string' &&
    event.model.length > 0 &&
    isCount(event.input_tokens) &&
    isCount(event.output_tokens) &&
    isOptionalCount(event.cache_creation_input_tokens) &&
    isOptionalCount(event.cache_read_input_tokens)
  );
}

/**
 * A USD amount for people: four decimals under a dollar so small runs do not read as free
 * (`$0.0213`), cents above (`$12.34`), and `cost unknown` for undefined.
 */
export function formatUsd(usd: number | undefined): string {
  if (usd === undefined || !Number.isFinite(usd)) return 'cost unknown';
  if (usd === 0) return '$0.00';
  return `$${usd.toFixed(Math.abs(usd) < 1 ? 4 : 2)}`;
}

/** A summary for people: the total, or `cost unknown` with the known part when there is one. */
export function formatCost(summary: CostSummary): string {
  if (summary.usd !== undefined) return formatUsd(summary.usd);
  return summary.knownUsd > 0 ? `cost unknown (at least ${formatUsd(summary.knownUsd)})` : 'cost unknown';
}
