/**
 * What the submit benchmark times, shared by the orchestrator (bench/submit.ts) and the client
 * process it forks (bench/submit-client.ts).
 */
export const SUBMIT_OPS = ['put', 'putMinimal', 'getPut', 'storeCreate', 'submit', 'keyed', 'live'] as const;
export type SubmitOp = (typeof SUBMIT_OPS)[number];

export interface SubmitClientConfig {
  url: string;
  apiKey: string;
  /** The tenant of apiKey, for the jobs the client writes through the store itself. */
  tenant: string;
  tableName: string;
}

export type ClientRequest =
  /** One timed sample of each op, in this order; answers the ms per op and the jobs it submitted. */
  | { kind: 'round'; order: SubmitOp[]; tag: string }
  /** `count` rounds back to back, each in its own shuffled order; answers the samples per op. */
  | { kind: 'rounds'; count: number; tag: string; seed: number };

export interface RoundResult {
  ms: Record<SubmitOp, number>;
  jobIds: string[];
}

export type RoundsResult = Record<SubmitOp, number[]>;

export const emptySamples = (): RoundsResult =>
  Object.fromEntries(SUBMIT_OPS.map((op) => [op, [] as number[]])) as RoundsResult;

export type ClientReply = { ok: true; result: unknown } | { ok: false; error: string };

/**
 * A round's order: a seeded shuffle (Fisher-Yates over mulberry32), so on average every op takes
 * every place and follows every other op equally often. A fixed rotation would keep neighbours
 * fixed: an op always right after a request that has just woken the stack's process would be
 * timed warm every time, its neighbour never.
 */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
