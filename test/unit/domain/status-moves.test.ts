import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  AWAITING_EXECUTION,
  JOB_STATUSES,
  madeMove,
  MOVES,
  newJob,
  REDRIVE,
} from '../../../lambdas/domain/job.js';

describe('moves seen in a write', () => {
  it('a write made a move when it went from one of its from statuses to its to status', () => {
    expect(madeMove(MOVES.cancel, 'running', 'cancelled')).toBe(true);
    expect(madeMove(MOVES.cancel, 'cancelled', 'cancelled')).toBe(false);
    expect(madeMove(MOVES.cancel, undefined, 'cancelled')).toBe(false);
    expect(madeMove(MOVES.answer, 'input_required', 'running')).toBe(true);
    expect(madeMove(MOVES.answer, 'running', 'running')).toBe(false);
    expect(madeMove(MOVES.answer, 'pending', 'running')).toBe(false);
  });

  it('a job waits for its execution in the status a submit gives it and a redrive returns it to', () => {
    const job = newJob(
      'job_x',
      'acme',
      { agent: 'echo', input: {}, timeoutSeconds: 5 },
      new Date(),
      new Date(),
    );
    expect(job.status).toBe(AWAITING_EXECUTION);
    expect(REDRIVE.to).toBe(AWAITING_EXECUTION);
    expect(MOVES.start.from).toContain(AWAITING_EXECUTION);
  });

  it.each(['control-executions', 'sweep-jobs'])(
    'the %s handler compares job statuses only through the status machine',
    async (name) => {
      const source = await readFile(new URL(`../../../lambdas/handlers/${name}.ts`, import.meta.url), 'utf8');
      const statuses = JOB_STATUSES.join('|');
      expect(source).not.toMatch(new RegExp(`status\\s*[!=]==?\\s*'(${statuses})'`));
    },
  );
});
