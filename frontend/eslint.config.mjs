//! Lint: Grafana's shared config for the TypeScript sources; plain ES modules for scripts, preview server and browser tests.
import grafanaConfig from '@grafana/eslint-config';

export default [
  { ignores: ['dist/**', 'node_modules/**', 'preview/build/**', 'test-results/**'] },
  ...grafanaConfig.map((c) => ({ ...c, files: ['**/*.{ts,tsx,js,mjs}'] })),
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { console: 'readonly', process: 'readonly', performance: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: { ecmaVersion: 2022 },
    rules: {
      'react/react-in-jsx-scope': 'off',
      'react/prop-types': 'off',
    },
  },
];
