import nx from "@nx/eslint-plugin";
import prettier from "eslint-config-prettier";

export default [
  ...nx.configs["flat/base"],
  ...nx.configs["flat/typescript"],
  prettier,
  { ignores: ["**/dist", "**/node_modules", "**/.nx", "**/drizzle", "**/test-results", "**/playwright-report"] },
  {
    files: ["**/*.ts", "**/*.tsx", "**/*.mjs"],
    rules: {
      "@nx/enforce-module-boundaries": [
        "error",
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: "scope:domain", onlyDependOnLibsWithTags: [] },
            { sourceTag: "scope:infra", onlyDependOnLibsWithTags: ["scope:domain"] },
            { sourceTag: "scope:api", onlyDependOnLibsWithTags: ["scope:domain", "scope:infra"] },
            { sourceTag: "scope:client", onlyDependOnLibsWithTags: ["scope:api", "scope:domain"] },
            {
              sourceTag: "scope:app",
              onlyDependOnLibsWithTags: ["scope:api", "scope:client", "scope:domain", "scope:infra"],
            },
            { sourceTag: "scope:e2e", onlyDependOnLibsWithTags: ["scope:api", "scope:domain", "scope:infra"] },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      // XState placeholders (actions the host provides) are empty by design.
      "@typescript-eslint/no-empty-function": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The environment is read once, in apps/server/src/env.ts; libraries take settings as arguments.
    files: ["**/*.ts", "**/*.tsx"],
    ignores: [
      "apps/server/src/env.ts",
      "libs/client/src/cli/env.ts",
      "**/*.config.ts",
      "e2e/**",
      "**/*.test.ts",
      "**/*.bench.ts",
      "**/testing/**",
      "**/support/**",
    ],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read the environment only in apps/server/src/env.ts." },
      ],
    },
  },
  {
    // Tests index into fixtures they just built; a failed lookup fails the test anyway.
    files: ["**/*.test.ts", "**/*.test.tsx", "**/testing/**", "**/support/**", "e2e/**"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
];
