import { describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS, UNREADABLE } from "./composer-settings";
import { settingsDraft } from "./settings-draft";

describe("settingsDraft", () => {
  it("gives the defaults when nothing is stored, or what is stored is not JSON", () => {
    expect(settingsDraft.read()).toEqual(DEFAULT_SETTINGS);
    sessionStorage.setItem("anvil:settings", "{not json");
    expect(settingsDraft.read()).toEqual(DEFAULT_SETTINGS);
  });

  it("gives back what it stored", () => {
    const mine = { ...DEFAULT_SETTINGS, size: -1, custom: { width: 640, height: 960 }, steps: "8", modules: ["ae"] };
    settingsDraft.write(mine);
    expect(settingsDraft.read()).toEqual(mine);
  });

  it("takes the default for each stored field of the wrong shape, and keeps the rest", () => {
    sessionStorage.setItem(
      "anvil:settings",
      JSON.stringify({
        size: 99,
        steps: 5,
        seed: "7",
        cfgScale: UNREADABLE,
        modules: ["ae", 3],
        custom: { width: "x" },
      }),
    );
    expect(settingsDraft.read()).toEqual({ ...DEFAULT_SETTINGS, seed: "7", modules: ["ae"] });
  });
});
