import type { Page } from "@playwright/test";
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

test.describe("accessibility of the chat page", () => {
  for (const theme of ["light", "dark"] as const) {
    test(`every text colour has at least 4.5:1 contrast on the surfaces it sits on, ${theme} theme`, async ({
      page,
    }) => {
      await page.goto("/");
      const names = [...new Set(TEXT_ON.flatMap(([text, on]) => [text, ...on]))];
      const colours = await themeColours(page, theme, names);
      const low = TEXT_ON.flatMap(([text, on]) =>
        on
          .map((surface) => ({ pair: `--${text} on --${surface}`, ratio: contrast(colours[text]!, colours[surface]!) }))
          .filter(({ ratio }) => ratio < 4.5)
          .map(({ pair, ratio }) => `${pair}: ${ratio.toFixed(2)}`),
      );
      expect(low).toEqual([]);
    });
  }
});
