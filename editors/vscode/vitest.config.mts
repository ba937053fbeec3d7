import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    setupFiles: ['test/unit/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // the real-server tests spawn qwen-lsp processes; keep them in one worker, one at a time
    fileParallelism: false,
    pool: 'forks',
  },
});
