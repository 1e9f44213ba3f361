import { describe, expect, it } from "vitest";
import { checkBackendAddresses } from "./backend-addresses";
import type { ResolveHost } from "./backend-addresses";

describe("checkBackendAddresses", () => {
  /** A resolver of fixed names; any other name does not resolve. */
  const names =
    (table: Record<string, string[]>): ResolveHost =>
    async (host) => {
      const addresses = table[host];
      if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
      return addresses;
    };

  it("refuses one Forge under two names, localhost and 127.0.0.1, naming both entries", async () => {
    // The system's own resolver: localhost is 127.0.0.1 (and perhaps ::1) on any machine.
    await expect(checkBackendAddresses(["http://localhost:7860", "http://127.0.0.1:7860"])).rejects.toThrow(
      "Invalid environment: FORGE_URL lists http://localhost:7860 and http://127.0.0.1:7860, which are one server " +
        "(127.0.0.1 port 7860): it would count as two GPUs and get two generations at once; list it once",
    );
  });

  it("refuses a name and an address of the same server, an IPv4-mapped address, a default port spelled out, and never shows credentials", async () => {
    const resolve = names({ "gpu-box": ["10.0.0.7", "fd00::7"] });
    await expect(
      checkBackendAddresses(["http://anvil:s3cret@gpu-box:7860", "http://10.0.0.7:7860"], resolve),
    ).rejects.toThrow(
      /^(?!.*s3cret).*lists http:\/\/gpu-box:7860 and http:\/\/10\.0\.0\.7:7860, which are one server \(10\.0\.0\.7 port 7860\)/,
    );
    await expect(checkBackendAddresses(["http://[fd00::7]:7860", "http://gpu-box:7860"], resolve)).rejects.toThrow(
      "(fd00::7 port 7860)",
    );
    await expect(
      checkBackendAddresses(["http://[::ffff:10.0.0.7]:7860", "http://gpu-box:7860"], resolve),
    ).rejects.toThrow("(10.0.0.7 port 7860)");
    await expect(
      checkBackendAddresses(["https://10.0.0.7/forge", "https://gpu-box:443/forge"], resolve),
    ).rejects.toThrow("(10.0.0.7 port 443 path /forge)");
  });

  it("takes other ports, other paths behind one proxy, and names that do not resolve (the probes report those)", async () => {
    const resolve = names({ "gpu-box": ["10.0.0.7"], proxy: ["10.0.0.9"] });
    expect(await checkBackendAddresses(["http://gpu-box:7860", "http://10.0.0.7:7861"], resolve)).toEqual([]);
    expect(
      await checkBackendAddresses(["https://proxy/gpu-1", "https://proxy/gpu-2", "https://10.0.0.9/gpu-3"], resolve),
    ).toEqual([]);
    expect(await checkBackendAddresses(["http://gpu-box:7860", "http://gone.invalid:7860"], resolve)).toEqual([]);
    expect(await checkBackendAddresses(["http://localhost:7860"])).toEqual([]);
    expect(await checkBackendAddresses(undefined)).toEqual([]);
  });

  it("only warns about two host names of one address: they may be two virtual hosts of one reverse proxy", async () => {
    const resolve = names({ "gpu-1.lan": ["10.0.0.9"], "gpu-2.lan": ["10.0.0.9"] });
    expect(await checkBackendAddresses(["http://gpu-1.lan", "http://gpu-2.lan"], resolve)).toEqual([
      "FORGE_URL lists http://gpu-1.lan and http://gpu-2.lan, which reach the same address (10.0.0.9 port 80): if " +
        "they are one Forge, list it once (it would get two generations at once); two virtual hosts of one reverse proxy are fine",
    ]);
  });
});
