/**
 * The reliability suites push thousands of requests per minute through one tenant to test the
 * engine, not the request-rate limit: one request per millisecond keeps the limiter in the path
 * without refusing.
 */
export const ENGINE_TEST_LIMITS = JSON.stringify({ requestsPerMinute: 60_000 });
