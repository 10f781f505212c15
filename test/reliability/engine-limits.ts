/**
 * The reliability suites push thousands of requests and jobs through one tenant to test the
 * engine, not the tenant limits: one request per millisecond keeps the rate limiter in the path
 * without refusing; the queued bound sits above the largest burst (the load suite's 2,000 jobs) and
 * the running bound is the highest a tenant may have, so admission stays in the path.
 */
export const ENGINE_TEST_LIMITS = JSON.stringify({
  requestsPerMinute: 60_000,
  maxRunningJobs: 1_000,
  maxQueuedJobs: 5_000,
});
