//! Unit tests: jsdom, with Grafana's packages inlined so their ESM/CJS mix loads under vitest.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
    server: { deps: { inline: [/@grafana\//] } },
    testTimeout: 20000,
  },
});
