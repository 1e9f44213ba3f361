import { test as base } from "@playwright/test";
import { cancelActiveJobs } from "./app";

export { expect } from "@playwright/test";

/**
 * Playwright's `test`, which cancels whatever a test left queued or running (a job holding the GPU above all), so
 * that a failing spec does not leave the next one waiting behind it.
 */
export const test = base.extend<{ idleLineAfterwards: void }>({
  idleLineAfterwards: [
    async ({ request }, use) => {
      await use();
      await cancelActiveJobs(request);
    },
    { auto: true },
  ],
});
