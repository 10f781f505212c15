/**
 * The reliability suites push thousands of requests and jobs through one tenant to test the
 * engine, not the tenant limits: one request per millisecond keeps the rate limiter in the path
 * without refusing, and the running and queued bounds sit above the largest burst (the load suite's
 * 2,000 jobs), so admission stays in the path without holding jobs back.
 */
export const ENGINE_TEST_LIMITS = JSON.stringify({
  requestsPerMinute: 60_000,
  maxRunningJobs: 5_000,
  maxQueuedJobs: 5_000,
});
