import * as z from 'zod';
import { JOB_STATUSES } from '../../domain/job.js';
import { DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE } from '../../domain/job-events.js';

/**
 * Query-string schemas of the read routes, apart from the body schemas so that a route's bundle
 * builds only the schemas it validates with (zod builds each at load, which is cold-start time).
 */
export const listJobsQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

/** A seq as a client sends it back: `after=`, `Last-Event-ID`. */
export const eventSeqSchema = z.coerce
  .number()
  .int()
  .min(0)
  .max(9_999_999_999)
  .meta({ description: 'Seq of the last event already seen; 0 (the default) reads from the first.' });

export const listEventsQuerySchema = z.strictObject({
  after: eventSeqSchema.default(0),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(DEFAULT_EVENTS_PAGE),
});

export const streamQuerySchema = z.strictObject({ after: eventSeqSchema.optional() });

const usageDay = (description: string) =>
  z.string().max(10).optional().meta({ format: 'date', example: '2026-12-05', description });

/** Days are checked by the domain (usageRange), which also knows the range rules. */
export const usageQuerySchema = z.strictObject({
  from: usageDay('First UTC day, YYYY-MM-DD; default 29 days before `to`.'),
  to: usageDay('Last UTC day, YYYY-MM-DD, at most 92 days after `from`; default today (UTC).'),
});
