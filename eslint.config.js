// eslint.config.js — lint rules for quorumgate: typescript-eslint's recommended
// type-aware set, plus the house rules from ../shared/STYLE.md that a linter can check.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', '**/*.mjs', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (STYLE.md).' },
      ],
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The pure cores take time and randomness only as inputs (DESIGN.md promise 6).
    files: ['src/raft/**/*.ts', 'src/state/**/*.ts', 'src/policy/**/*.ts', 'src/commands/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Pure core: time arrives as an input.' },
        { object: 'Math', property: 'random', message: 'Pure core: randomness is injected.' },
        { object: 'performance', property: 'now', message: 'Pure core: time arrives as an input.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Pure core: no timers.' },
        { name: 'setInterval', message: 'Pure core: no timers.' },
        { name: 'setImmediate', message: 'Pure core: no timers.' },
      ],
    },
  },
);
