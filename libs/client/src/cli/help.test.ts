import { describe, expect, it } from "vitest";
import { capturedOutput as capture } from "../testing/captured-output";
import { runCli } from "./program";

describe("anvil --help", () => {
  it("tells a script author every exit code and where the server and token come from", async () => {
    const out = capture();
    const code = await runCli(
      ["--help"],
      { url: "http://127.0.0.1:3000", token: undefined },
      {
        stdout: out.stream,
        stderr: capture().stream,
      },
    );
    expect(code).toBe(0);
    const help = out.text();
    for (const exit of ["0", "1", "2", "3", "130"]) expect(help).toMatch(new RegExp(`^ +${exit} +\\S`, "m"));
    expect(help).toContain("ANVIL_URL");
    expect(help).toContain("default http://127.0.0.1:3000");
    expect(help).toContain("ANVIL_TOKEN");
    expect(help).toContain("--json");
  });

  it("lists --json in each command's own --help, where a script author looks for it", async () => {
    for (const command of [["get"], ["jobs"], ["submit"], ["users", "list"]]) {
      const out = capture();
      const code = await runCli(
        [...command, "--help"],
        { url: "http://127.0.0.1:3000", token: undefined },
        { stdout: out.stream, stderr: capture().stream },
      );
      expect(code).toBe(0);
      expect(out.text(), command.join(" ")).toMatch(/^ +--json +print JSON, for scripts$/m);
    }
  });

  it("prints its version with --version and exits 0", async () => {
    const out = capture();
    const code = await runCli(
      ["--version"],
      { url: "http://127.0.0.1:3000", token: undefined },
      {
        stdout: out.stream,
        stderr: capture().stream,
      },
    );
    expect(code).toBe(0);
    expect(out.text().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("names users add by the API's name too: users create, shown beside it", async () => {
    const out = capture();
    const code = await runCli(
      ["users", "--help"],
      { url: "http://127.0.0.1:3000", token: undefined },
      { stdout: out.stream, stderr: capture().stream },
    );
    expect(code).toBe(0);
    expect(out.text()).toMatch(/^ +add\|create \[options\] <name> +make a user/m);
    const create = capture();
    expect(
      await runCli(
        ["users", "create", "--help"],
        { url: "http://127.0.0.1:3000", token: undefined },
        { stdout: create.stream, stderr: capture().stream },
      ),
    ).toBe(0);
    expect(create.text()).toContain("Usage: anvil users add|create [options] <name>");
  });
});
