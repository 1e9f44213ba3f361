import { createTheme } from "../lib/theme";
import { MoonIcon, SunIcon } from "./icons";

/** A button that switches between the light and the dark theme. */
export function ThemeToggle() {
  const { theme, toggle } = createTheme();
  return (
    <button
      type="button"
      class="icon-button"
      aria-label={theme() === "dark" ? "Switch to light theme" : "Switch to dark theme"}
      title={theme() === "dark" ? "Light theme" : "Dark theme"}
      onClick={toggle}
    >
      {theme() === "dark" ? <SunIcon /> : <MoonIcon />}
    </button>
  );
}
