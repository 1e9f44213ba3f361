// Run before `npm run serve` and `npm run simulator`: they start what `npm run build` made, and without it Node
// stopped with "Error: Cannot find module …/dist/main.js" and a stack trace, which does not say to build.
import { existsSync } from "node:fs";

const file = process.argv[2];
if (file && !existsSync(file)) {
  console.error(
    `${file} is missing: Anvil is not built. Run \`npm run build\` first (or \`npm start\`, which builds, then serves).`,
  );
  process.exit(1);
}
