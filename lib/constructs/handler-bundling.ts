/**
 * How every handler is bundled, as plain esbuild settings: HandlerFunction hands them to
 * NodejsFunction, and the cold-start benchmark builds the very same bundle with esbuild directly,
 * so the size and init time it reports are those of the deployed code.
 */
export const HANDLER_BUNDLING = {
  format: 'esm',
  target: 'node22',
  minify: true,
  sourceMap: true,
  // Node parses a function's whole source map at load (HANDLER_NODE_OPTIONS); stack traces need
  // only its mappings, and without the sources' text the map is less than half the size.
  sourcesContent: false,
  mainFields: ['module', 'main'],
  // Some dependencies are CommonJS and call require(); an ESM bundle has none of its own.
  banner: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
  // The SDK is bundled at the versions package-lock.json pins, so the deployed code runs the exact
  // clients the unit and local tests ran, not whatever the runtime ships that week.
  bundleAwsSDK: true,
} as const;

/** Deployed functions map stack traces back to the TypeScript sources with the bundle's source map. */
export const HANDLER_NODE_OPTIONS = '--enable-source-maps';
