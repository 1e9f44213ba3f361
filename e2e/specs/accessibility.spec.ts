import type { Page } from "@playwright/test";
import {
  cancelJob,
  expectImage,
  holdGpu,
  holdingPrompt,
  jobCard,
  openNewConversation,
  openSettings,
  submit,
  submitJob,
  uniquePrompt,
} from "../support/app";
import { expect, test } from "../support/test";

type Theme = "light" | "dark";

/** WCAG 2's relative luminance of an sRGB colour given as [r, g, b] in 0..255. */
const luminance = ([r, g, b]: number[]): number => {
  const linear = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r ?? 0) + 0.7152 * linear(g ?? 0) + 0.0722 * linear(b ?? 0);
};

/** WCAG 2's contrast ratio of two opaque colours. */
const contrast = (a: number[], b: number[]): number => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return ((x ?? 0) + 0.05) / ((y ?? 0) + 0.05);
};

/** The page's theme colours as the browser computes them, each as [r, g, b] (read through a probe's `color`). */
async function themeColours(page: Page, theme: Theme, names: string[]): Promise<Record<string, number[]>> {
  return page.evaluate(
    ({ theme, names }) => {
      document.documentElement.dataset.theme = theme;
      const probe = document.body.appendChild(document.createElement("span"));
      const colours = Object.fromEntries(
        names.map((name) => {
          probe.style.color = `var(--${name})`;
          return [name, (getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number)];
        }),
      );
      probe.remove();
      return colours;
    },
    { theme, names },
  );
}

/** Text colours and the surfaces each is drawn on in the chat page, by the variables styles.css gives them. */
const TEXT_ON: [string, string[]][] = [
  ["text", ["bg", "surface", "surface-2", "surface-3", "accent-soft"]],
  ["text-2", ["bg", "surface", "surface-2", "surface-3"]],
  // Dates, the card's size and settings lines, the composer's summary, empty lists: on the page, cards and panels,
  // a row pointed at, and the open conversation's row.
  ["text-3", ["bg", "surface", "surface-2", "accent-soft"]],
  ["accent", ["bg", "surface", "accent-soft"]],
  // Generate and New conversation, and their hover.
  ["accent-text", ["accent", "accent-2"]],
  // The badges, the error box and the banners.
  ["warn", ["warn-soft", "surface"]],
  ["info", ["info-soft", "surface"]],
  ["ok", ["ok-soft", "surface"]],
  ["danger-strong", ["danger-soft", "surface", "bg"]],
];

/** The colours of a computed `box-shadow` or `color`, each as [r, g, b, alpha]. */
const coloursOf = (css: string): number[][] =>
  [...css.matchAll(/rgba?\(([^)]+)\)/g)].map((m) => {
    const [r = 0, g = 0, b = 0, a = 1] = (m[1] ?? "")
      .split(/[ ,/]+/)
      .filter(Boolean)
      .map(Number);
    return [r, g, b, a];
  });

/** `colour` (with its alpha) as it shows over the opaque `under`. */
const over = ([r = 0, g = 0, b = 0, a = 1]: number[], under: number[]): number[] =>
  [r, g, b].map((c, i) => a * c + (1 - a) * (under[i] ?? 0));

/** The opaque colour of a computed `color` or `background-color`, as [r, g, b]. */
const rgbOf = (css: string): number[] => (coloursOf(css)[0] ?? []).slice(0, 3);

/**
 * The fields `selector` finds, in `theme`, as the browser computes them: whether each is shown and has an edge; its
 * placeholder's colour, its edge's, and the background it sits on, from itself up (inside) and from its parent up
 * (outside: the panel around it), each as [r, g, b].
 */
async function fieldColours(page: Page, theme: Theme, selector: string) {
  const fields = await page.evaluate(
    ({ theme, selector }) => {
      document.documentElement.dataset.theme = theme;
      // The first element from `element` up that paints a background (the prompt box is transparent on the composer).
      const backOf = (element: HTMLElement | null): string => {
        while (element && getComputedStyle(element).backgroundColor === "rgba(0, 0, 0, 0)") {
          element = element.parentElement;
        }
        return element ? getComputedStyle(element).backgroundColor : "rgb(255, 255, 255)";
      };
      return [...document.querySelectorAll<HTMLElement>(selector)].map((field) => ({
        id: field.id,
        shown: field.offsetParent !== null,
        edged: getComputedStyle(field).borderTopWidth !== "0px",
        placeholder: getComputedStyle(field, "::placeholder").color,
        edge: getComputedStyle(field).borderTopColor,
        inside: backOf(field),
        outside: backOf(field.parentElement),
      }));
    },
    { theme, selector },
  );
  return fields.map(({ placeholder, edge, inside, outside, ...field }) => ({
    ...field,
    placeholder: rgbOf(placeholder),
    edge: rgbOf(edge),
    inside: rgbOf(inside),
    outside: rgbOf(outside),
  }));
}

/** Each of `ratios` under `min`, as "name: ratio", for a failure to name them all. */
const under = (min: number, ratios: { name: string; ratio: number }[]): string[] =>
  ratios.filter(({ ratio }) => ratio < min).map(({ name, ratio }) => `${name}: ${ratio.toFixed(2)}`);

/** Tabs from the top of the page to its first stop; returns what the focus ring looks like there. */
async function focusRing(page: Page) {
  await expect(page.getByRole("button", { name: "New conversation" })).toBeVisible();
  await page.keyboard.press("Tab");
  return page.evaluate(() => {
    const focused = document.activeElement as HTMLElement;
    const style = getComputedStyle(focused);
    return {
      name: focused.textContent?.trim() || focused.getAttribute("aria-label"),
      focusVisible: focused.matches(":focus-visible"),
      boxShadow: style.boxShadow,
      outline: { style: style.outlineStyle, width: parseFloat(style.outlineWidth), colour: style.outlineColor },
    };
  });
}

test.describe("accessibility of the chat page", () => {
  for (const theme of ["light", "dark"] as const) {
    test(`every text colour has at least 4.5:1 contrast on the surfaces it sits on, ${theme} theme`, async ({
      page,
    }) => {
      await page.goto("/");
      const names = [...new Set(TEXT_ON.flatMap(([text, on]) => [text, ...on]))];
      const colours = await themeColours(page, theme, names);
      const pairs = TEXT_ON.flatMap(([text, on]) =>
        on.map((surface) => ({
          name: `--${text} on --${surface}`,
          ratio: contrast(colours[text]!, colours[surface]!),
        })),
      );
      expect(under(4.5, pairs)).toEqual([]);
    });
  }

  for (const theme of ["light", "dark"] as const) {
    test(`the fields' placeholders have at least 4.5:1 contrast on the fields, ${theme} theme`, async ({ page }) => {
      await page.goto("/");
      await expect(page.getByLabel("Seed", { exact: true })).toBeAttached();
      const fields = await fieldColours(page, theme, "[placeholder]");
      expect(fields.map((f) => f.id)).toEqual(expect.arrayContaining(["prompt", "setting-seed", "setting-negative"]));
      const ratios = fields.map(({ id, placeholder, inside }) => ({ name: id, ratio: contrast(placeholder, inside) }));
      expect(under(4.5, ratios)).toEqual([]);
    });
  }

  for (const theme of ["light", "dark"] as const) {
    test(`the fields' edges have at least 3:1 contrast with the field and the panel around it, ${theme} theme`, async ({
      page,
    }) => {
      await page.goto("/");
      await openSettings(page);
      await expect(page.getByLabel("Seed", { exact: true })).toBeVisible();
      const fields = (await fieldColours(page, theme, "input:not([type=checkbox]):not([type=radio]), select")).filter(
        ({ shown, edged }) => shown && edged,
      );
      expect(fields.map((f) => f.id)).toEqual(expect.arrayContaining(["setting-seed", "setting-size"]));
      // At 1.3:1 (the panels' --border) a field's edge was all but invisible (WCAG 1.4.11 asks 3:1).
      const ratios = fields.map(({ id, edge, inside, outside }) => ({
        name: id,
        ratio: Math.min(contrast(edge, inside), contrast(edge, outside)),
      }));
      expect(under(3, ratios)).toEqual([]);
    });
  }

  for (const theme of ["light", "dark"] as const) {
    test(`the keyboard focus ring has at least 3:1 contrast with the page around it, ${theme} theme`, async ({
      page,
    }) => {
      await page.goto("/");
      const colours = await themeColours(page, theme, ["surface", "bg", "surface-2"]);
      const ring = await focusRing(page);
      expect(ring.focusVisible).toBe(true);
      // The outermost shadow is the ring's edge against the page.
      const edge = coloursOf(ring.boxShadow).at(-1);
      expect(edge, ring.boxShadow).toBeDefined();
      for (const around of ["surface", "bg", "surface-2"]) {
        const ratio = contrast(over(edge!, colours[around]!), colours[around]!);
        expect(ratio, `ring ${ring.boxShadow} around ${ring.name} on --${around}`).toBeGreaterThanOrEqual(3);
      }
    });
  }

  test("the keyboard focus shows with forced colours (Windows High Contrast), which drop the ring's box shadow", async ({
    page,
  }) => {
    await page.emulateMedia({ forcedColors: "active" });
    await page.goto("/");
    const ring = await focusRing(page);
    expect(ring.focusVisible, String(ring.name)).toBe(true);
    expect(ring.outline.style).not.toBe("none");
    expect(ring.outline.width).toBeGreaterThanOrEqual(1);
    expect(coloursOf(ring.outline.colour)[0]?.[3], ring.outline.colour).toBeGreaterThan(0);
  });
});

test.describe("what a screen reader hears of a job", () => {
  test("one's own job is said to wait and then to be done, in one live region, with its prompt", async ({ page }) => {
    await openNewConversation(page);
    const held = await holdGpu(page);
    const said = page.getByTestId("job-announcer");
    await expect(said).toHaveAttribute("role", "status");
    const prompt = uniquePrompt("a quiet harbour");
    const card = await submit(page, prompt, { steps: 2 });
    await expect(said).toHaveText(/^Queued, #\d+ in queue: /);
    await expect(said).toContainText(prompt);
    await cancelJob(page.request, held.id);
    await expectImage(card, prompt);
    await expect(said).toContainText(`Done: ${prompt}.`);
  });

  test("a job cancelled, then retried, is said to be cancelled and then to wait again", async ({ page }) => {
    await openNewConversation(page);
    await holdGpu(page);
    const said = page.getByTestId("job-announcer");
    const prompt = uniquePrompt("a lantern in fog");
    const card = await submit(page, prompt, { steps: 2 });
    await expect(said).toContainText(prompt);
    await card.getByRole("button", { name: "Cancel" }).click();
    await expect(said).toHaveText(`Cancelled: ${prompt}.`);
    // The retry is a new job with the same prompt: a card of its own.
    await card.getByRole("button", { name: "Retry" }).click();
    await expect(said).toHaveText(new RegExp(`^Queued, #\\d+ in queue: ${prompt}\\.$`));
  });
});

test.describe("the conversations drawer on a phone", () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test("keeps Tab inside it while open, and gives the focus back to the menu button however it closes", async ({
    page,
  }) => {
    await page.goto("/");
    const menu = page.getByRole("button", { name: "Conversations", exact: true });
    await menu.focus();
    await page.keyboard.press("Enter");
    await expect(menu).toHaveAttribute("aria-expanded", "true");
    // Over the page it is a modal dialog, said as one; at a desktop's width, where it is a column, it is not.
    await expect(page.getByRole("dialog", { name: "Conversations" })).toHaveAttribute("aria-modal", "true");
    const inDrawer = () => page.evaluate(() => document.getElementById("sidebar")?.contains(document.activeElement));
    expect(await inDrawer()).toBe(true);
    const controls = await page.locator("#sidebar").locator("button:visible").count();
    for (let i = 0; i < controls + 2; i++) {
      await page.keyboard.press("Tab");
      expect(await inDrawer(), `after ${i + 1} Tab`).toBe(true);
    }
    await page.keyboard.press("Shift+Tab");
    expect(await inDrawer(), "after Shift+Tab").toBe(true);

    await page.keyboard.press("Escape");
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await expect(menu).toBeFocused();

    await page.keyboard.press("Enter");
    await expect(menu).toHaveAttribute("aria-expanded", "true");
    await page.getByRole("button", { name: "Close conversations" }).click({ position: { x: 360, y: 400 } });
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await expect(menu).toBeFocused();

    await page.setViewportSize({ width: 1280, height: 740 });
    await expect(page.getByRole("navigation", { name: "Conversations" })).toBeVisible();
    await expect(page.getByRole("dialog")).toHaveCount(0);
  });
});

test.describe("reflow at 400 % zoom", () => {
  // A 1280×1024 window at 400 %: WCAG 1.4.10's case.
  test.use({ viewport: { width: 320, height: 256 } });

  test("the conversation gets a good share of a 320×256 window, and the header and composer are a scroll away", async ({
    page,
  }) => {
    const prompt = uniquePrompt("a window at four hundred per cent");
    const job = await submitJob(page, prompt, 2);
    await page.goto(`/?c=${job.conversationId}`);
    await expect(jobCard(page, prompt)).toBeAttached();
    // The header, the queue strip and the composer, each held on the screen, left the conversation 32 pixels.
    const messages = await page.locator(".chat__scroll").boundingBox();
    expect(messages?.height ?? 0, "the conversation's height").toBeGreaterThanOrEqual(0.4 * 256);
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    await box.focus();
    await expect(box).toBeInViewport({ ratio: 1 });
    await expect(page.getByRole("button", { name: "Generate" })).toBeInViewport({ ratio: 1 });
    const menu = page.getByRole("button", { name: "Conversations", exact: true });
    await menu.focus();
    await expect(menu).toBeInViewport({ ratio: 1 });
  });
});

test.describe("the keyboard's way to the prompt", () => {
  test("the page's first Tab stop shows a link that skips the header and the conversations to the prompt box", async ({
    page,
  }) => {
    await page.goto("/");
    await expect(page.getByRole("button", { name: "New conversation" })).toBeVisible();
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to the prompt" });
    await expect(skip).toBeFocused();
    await expect(skip).toBeInViewport();
    await page.keyboard.press("Enter");
    await expect(page.getByRole("textbox", { name: "Prompt", exact: true })).toBeFocused();
  });
});

test.describe("the queue in the keyboard's order", () => {
  test("comes where it is seen: as a strip, between the header and the conversation; as a column, after it", async ({
    page,
  }) => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto("/");
    const queue = page.getByRole("complementary", { name: "Queue" });
    await expect(queue.getByTestId("queue-waiting")).toHaveText("0");
    // The strip lies above the conversation: it was reached only after the composer, at the page's end.
    await page.getByRole("banner").getByRole("button").last().focus();
    await page.keyboard.press("Tab");
    await expect(queue.getByRole("button", { name: "Waiting jobs" })).toBeFocused();

    // Wide, it is the column right of the conversation: after the composer, the next Tab is the queue's.
    await page.setViewportSize({ width: 1280, height: 740 });
    const box = page.getByRole("textbox", { name: "Prompt", exact: true });
    await box.fill("a prompt, so that Generate can be pressed");
    await page.getByRole("button", { name: "Generate" }).focus();
    await page.keyboard.press("Tab");
    await expect(queue.getByRole("button", { name: "Waiting jobs" })).toBeFocused();
  });
});

test.describe("motion", () => {
  test("a running job's card shimmers, and stands still for a person who asked for less motion", async ({ page }) => {
    // The configuration asks for less motion in every other spec.
    await page.emulateMedia({ reducedMotion: "no-preference" });
    await openNewConversation(page);
    const card = await submit(page, holdingPrompt("a shimmering card"));
    await expect(card).toHaveAttribute("data-status", "processing");
    // The picture area's shimmer, and the pulsing dot of the "Generating" badge.
    const animations = () =>
      Promise.all([
        card.locator(".job-card__state--processing").evaluate((element) => getComputedStyle(element).animationName),
        card.locator(".badge--processing").evaluate((element) => getComputedStyle(element, "::before").animationName),
      ]);
    expect(await animations()).toEqual(["shimmer", "pulse"]);
    await page.emulateMedia({ reducedMotion: "reduce" });
    expect(await animations()).toEqual(["none", "none"]);
  });
});
