import { holdingPrompt, openNewConversation, submit } from "../support/app";
import { expect, test } from "../support/test";

// At 1180 pixels or less the queue panel is a strip above the conversation (styles.css). It showed each GPU's state
// alone: what a GPU ran, and an admin's Cancel for a stuck generation, were hidden on a 1024-pixel laptop and a tablet.
test.describe("the queue strip of a narrow screen", () => {
  for (const viewport of [
    { width: 1024, height: 768 },
    // A phone's one-line strip, which scrolls sideways: Cancel is reached there too.
    { width: 390, height: 844 },
  ]) {
    test(`shows what a GPU runs and lets an admin cancel it at ${viewport.width}×${viewport.height}`, async ({
      page,
    }) => {
      // A new conversation, the job submitted, where the conversations lie beside it (a phone's are in a drawer).
      await openNewConversation(page);
      const prompt = holdingPrompt("a stuck generation");
      const card = await submit(page, prompt);
      await page.setViewportSize(viewport);
      await expect(card).toContainText("Generating");
      const gpus = page.getByRole("list", { name: "GPUs" });
      // The prompt, cut short, with the whole of it in its tooltip.
      const job = gpus.getByTitle(prompt, { exact: true });
      await expect(job).toBeVisible();
      const cancel = gpus.getByRole("button", { name: /^Cancel the job on / });
      await expect(cancel).toHaveAccessibleDescription(prompt);
      // Held by the strip: the conversation keeps its room below it.
      const [strip, composer] = await Promise.all([
        page.getByRole("complementary", { name: "Queue" }).boundingBox(),
        page.getByRole("textbox", { name: "Prompt", exact: true }).boundingBox(),
      ]);
      expect(strip!.y + strip!.height).toBeLessThan(composer!.y);
      await cancel.click();
      await expect(card).toContainText("Cancelled");
      await expect(cancel).toHaveCount(0);
    });
  }
});
