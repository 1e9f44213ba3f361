// Finds a Chromium for the browser tests, or installs one, and says which.
// Order: $CHROMIUM_PATH, Debian's /usr/bin/chromium, Playwright's own download; else install Playwright's
// (where the internet is reachable) or else Debian's package (when running as root).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const say = (message) => console.log(`ensure-chromium: ${message}`);

const playwrightChromium = async () => {
  try {
    const { chromium } = await import("@playwright/test");
    const path = chromium.executablePath();
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
};

const found = async () => {
  if (process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH))
    return `$CHROMIUM_PATH (${process.env.CHROMIUM_PATH})`;
  if (existsSync("/usr/bin/chromium")) return "Debian's Chromium at /usr/bin/chromium";
  const own = await playwrightChromium();
  return own ? `Playwright's Chromium at ${own}` : undefined;
};

let which = await found();
if (!which) {
  let installed = false;
  try {
    say("no Chromium found; trying Playwright's installer (npx playwright install chromium)");
    execFileSync("npx", ["playwright", "install", "chromium"], { stdio: "inherit", timeout: 180_000 });
    installed = true;
  } catch {
    say("Playwright's installer could not download its browser here");
  }
  if (installed) {
    // found() below picks it up.
  } else if (process.getuid?.() === 0) {
    say("installing Debian's chromium package instead");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } else {
    say(
      "no Chromium found; install one (apt-get install chromium, or npx playwright install chromium) or set CHROMIUM_PATH",
    );
    process.exit(1);
  }
  which = await found();
  if (!which) {
    say("the install finished but no Chromium can be found");
    process.exit(1);
  }
}
say(`using ${which}`);
