/**
 * aws-local-stepfunctions calls Promise.withResolvers, which Node only has from 22; the local stack
 * must keep running on Node 20, so add it when missing.
 */
interface PromiseWithResolversShape<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const promiseCtor = Promise as unknown as { withResolvers?: <T>() => PromiseWithResolversShape<T> };

if (typeof promiseCtor.withResolvers !== 'function') {
  promiseCtor.withResolvers = <T>() => {
    const out = {} as PromiseWithResolversShape<T>;
    out.promise = new Promise<T>((resolve, reject) => {
      out.resolve = resolve;
      out.reject = reject;
    });
    return out;
  };
}
