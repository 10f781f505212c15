/** The part of an SDK v3 client this module touches. */
interface WithMiddlewareStack {
  middlewareStack: { remove(name: string): boolean };
}

/**
 * Drops the SDK's logger middleware. It builds a redacted copy of every command's input and output
 * for the client's logger even when that logger is the default no-op one, so on a client that is
 * given no logger it is pure per-request CPU: a walk over the whole item on every job write.
 */
export function withoutSdkLogging<C extends WithMiddlewareStack>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
