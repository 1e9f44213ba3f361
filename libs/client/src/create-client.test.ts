import { describe, expect, it } from "vitest";
import { createAnvilClient } from "./create-client";

describe("createAnvilClient", () => {
  it("refuses a url without http:// or https:// at once, naming it, rather than failing every call (and watch for ever)", () => {
    for (const url of ["127.0.0.1:3000", "localhost:3000", "anvil.internal", "ftp://anvil.internal"]) {
      expect(() => createAnvilClient({ url }), url).toThrow(`it is "${url}"`);
    }
  });

  it('takes http(s) URLs, and a path or "" for a page served by Anvil itself', () => {
    for (const url of ["http://127.0.0.1:3000", "HTTPS://anvil.example/", "", "/anvil"]) {
      expect(() => createAnvilClient({ url }), url).not.toThrow();
    }
  });
});
