/**
 * How every handler is bundled, as plain esbuild settings: HandlerFunction hands them to
 * NodejsFunction, and the cold-start benchmark builds the very same bundle with esbuild directly,
 * so the size and init time it reports are those of the deployed code.
 */

/**
 * The large-value store's S3 client (lambdas/adapters/s3-values-client.ts) ships as a file of its
 * own next to the bundle of each handler that uses the store, and the store imports it the first
 * time it stores or reads a large value. Bundled in, the ~200 KB of it would be compiled at every
 * cold start even though it is not run: V8 compiles the bundler's lazily evaluated module wrappers
 * eagerly.
 */
export const VALUES_CLIENT = {
  entry: 'lambdas/adapters/s3-values-client.ts',
  /** The store's import of it; left as is in the bundles, so it loads the file next to index.mjs. */
  importPath: './s3-values-client.js',
  outfile: 's3-values-client.js',
  // A .js file with no package.json around it is CommonJS to Node; the bundles are index.mjs.
  format: 'cjs',
} as const;

/** The file NodejsFunction writes an ESM handler's bundle to. */
export const BUNDLE_FILE = 'index.mjs';

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
  externalModules: [VALUES_CLIENT.importPath],
} as const;

/** Deployed functions map stack traces back to the TypeScript sources with the bundle's source map. */
export const HANDLER_NODE_OPTIONS = '--enable-source-maps';

/** The esbuild options of the values client: the handlers' settings, in its own format. */
export function valuesClientOptions(projectRoot: string, outputDir: string) {
  const { target, minify, sourcesContent, mainFields } = HANDLER_BUNDLING;
  return {
    entryPoints: [`${projectRoot}/${VALUES_CLIENT.entry}`],
    outfile: `${outputDir}/${VALUES_CLIENT.outfile}`,
    bundle: true,
    platform: 'node' as const,
    format: VALUES_CLIENT.format,
    target,
    minify,
    sourcemap: HANDLER_BUNDLING.sourceMap,
    sourcesContent,
    mainFields: [...mainFields] as string[],
    logLevel: 'error' as const,
  };
}

/**
 * The same build as an esbuild command line, which NodejsFunction runs after bundling a handler.
 * It builds only when the bundle imports the client (the import is left as is in the bundle), so
 * a function that never touches large values does not ship the client and its source map.
 */
export function valuesClientBuildCommand(projectRoot: string, outputDir: string): string {
  const o = valuesClientOptions(projectRoot, outputDir);
  const flags = [
    '--bundle',
    `--platform=${o.platform}`,
    `--format=${o.format}`,
    `--target=${o.target}`,
    ...(o.minify ? ['--minify'] : []),
    ...(o.sourcemap ? ['--sourcemap'] : []),
    `--sources-content=${o.sourcesContent}`,
    `--main-fields=${o.mainFields.join(',')}`,
    `--log-level=${o.logLevel}`,
    `--outfile="${o.outfile}"`,
  ];
  const build = `npx --no-install esbuild "${o.entryPoints[0]}" ${flags.join(' ')}`;
  return `if grep -qF '${VALUES_CLIENT.importPath}' "${outputDir}/${BUNDLE_FILE}"; then ${build}; fi`;
}
