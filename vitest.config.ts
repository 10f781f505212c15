import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Construct tests synthesize without bundling or CloudFormation validation: same template, 10x faster.
    env: {
      CDK_VALIDATION: 'false',
      CDK_DISABLE_VERSION_CHECK: '1',
    },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'constructs', include: ['test/constructs/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          // Minutes of crash, load and fuzz runs: `npm run test:reliability`, not part of `npm test`.
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          globalSetup: ['test/reliability/global-setup.ts'],
          // Files run one after another: each loads the shared stack (and the crash test its own).
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
