import { describe, expect, it } from 'vitest';
import {
  canRedrive,
  canTransition,
  JOB_STATUSES,
  redriveExecutionName,
} from '../../../lambdas/domain/job.js';
import { eventsOfWrite } from '../../../lambdas/domain/job-events.js';
import { makeJob } from '../support/fixtures.js';

describe('redrive', () => {
  it('is the only way out of a terminal state, and only out of failed', () => {
    expect(JOB_STATUSES.filter(canRedrive)).toEqual(['failed']);
    for (const to of JOB_STATUSES) {
      for (const from of ['succeeded', 'failed', 'cancelled'] as const)
        expect(canTransition(from, to)).toBe(false);
    }
  });

  it('names each new attempt execution after the job and the attempt', () => {
    expect(redriveExecutionName('job_1', 2)).toBe('job_1-r2');
  });

  it('is announced as job.redriven with the new attempt', () => {
    const job = makeJob({ status: 'pending', attempt: 2, eventSeq: 6 });
    expect(eventsOfWrite({ job, previousSeq: 5, eventTypes: ['job.redriven'], progressData: null })).toEqual([
      { seq: 6, type: 'job.redriven', at: job.updatedAt, data: { status: 'pending', attempt: 2 } },
    ]);
  });
});
