// ESLint (flat config): eslint's and typescript-eslint's recommended rules over the extension,
// its tests and scripts. Run by scripts/test.sh (`npm run lint`) before the tests.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'bundled/', 'node_modules/', '.cache/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_`-prefixed names are deliberately unused (callback signatures, destructuring)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    // The unit tests drive mocks of the vscode API and read the server's JSON answers; they are
    // not type-checked (tsconfig.json includes src/ only), so `any` there hides nothing tsc
    // would catch. src/ keeps the rule.
    files: ['test/unit/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // page.evaluate() callbacks run in the browser
    files: ['test/e2e/**/*.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
