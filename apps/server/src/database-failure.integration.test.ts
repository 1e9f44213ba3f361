import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScratchDatabase } from "@anvil/persistence";
import { pino } from "pino";
import postgres from "postgres";
import { afterEach, describe, expect, it, inject } from "vitest";
import { startAnvil } from "./anvil";
import { testDrivers } from "./testing/test-databases";
import { testServerConfig } from "./testing/test-server";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/** Why start-up on `databaseUrl` failed. */
const failureOn = async (databaseUrl: string): Promise<string> => {
  const dataDir = await mkdtemp(join(tmpdir(), "anvil-database-failure-"));
  folders.push(dataDir);
  const started = startAnvil({ ...testServerConfig({ dataDir, databaseUrl }), logger: pino({ level: "silent" }) });
  const error = await started.then(
    async (anvil) => {
      await anvil.close();
      return new Error("the server started");
    },
    (failure: unknown) => failure as Error,
  );
  return error.message;
};

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
const closedPort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
};

describe("start-up on a DATABASE_URL it cannot open", () => {
  it("names DATABASE_URL, without its password, and what to check", async () => {
    const port = await closedPort();
    // The driver's own message, "connect ECONNREFUSED 127.0.0.1:<port>", named no setting.
    expect(await failureOn(`postgres://127.0.0.1:${port}/anvil?user=anvil&password=s3cret`)).toMatch(
      /^cannot open the database at DATABASE_URL postgres:\/\/127\.0\.0\.1:\d+\/anvil\?user=anvil&password=\*\*\*: /,
    );
    expect(await failureOn(`postgres://anvil:s3cret@127.0.0.1:${port}/anvil`)).toBe(
      `cannot open the database at DATABASE_URL postgres://anvil@127.0.0.1:${port}/anvil: ` +
        `connect ECONNREFUSED 127.0.0.1:${port}; is PostgreSQL running there, on that port?`,
    );
  });

  it.skipIf(!inject("testDatabaseUrl"))("says to create a database that does not exist", async () => {
    const url = new URL(inject("testDatabaseUrl"));
    url.pathname = "/anvil_no_such_database";
    const message = await failureOn(url.href);
    expect(message).toMatch(/^cannot open the database at DATABASE_URL postgres:\/\/.*\/anvil_no_such_database: /);
    expect(message).toMatch(/database "anvil_no_such_database" does not exist; create it \(createdb\)/);
  });

  it.skipIf(!inject("testDatabaseUrl"))(
    "says to give Anvil a database of its own, and a user that may create tables in it",
    async () => {
      const scratch = await createScratchDatabase(inject("testDatabaseUrl"), {
        prefix: "anvil_test_taken",
        takeOverWhenNotPermitted: false,
      });
      const role = `anvil_test_${randomBytes(4).toString("hex")}`;
      const admin = postgres(scratch.url, { max: 1, onnotice: () => {} });
      try {
        // Another application's table where Anvil's first one goes.
        await admin.unsafe("create table conversations (id integer)");
        expect(await failureOn(scratch.url)).toMatch(
          /relation "conversations" already exists; give Anvil a database of its own \(createdb anvil\)$/,
        );
        await admin.unsafe("drop table conversations");
        // A user that does not own the database may not create Anvil's schema there (nor, since PostgreSQL 15, tables in public).
        await admin.unsafe(`create role ${role} login`);
        await admin.unsafe(`revoke create on schema public from public`);
        const asRole = new URL(scratch.url);
        asRole.username = role;
        expect(await failureOn(asRole.href)).toMatch(
          /permission denied for database anvil_test_taken_\w+; the user must be able to create tables there: make it the database's owner/,
        );
      } finally {
        await admin.end();
        await scratch.drop();
        const server = postgres(inject("testDatabaseUrl"), { max: 1, onnotice: () => {} });
        await server.unsafe(`drop role if exists ${role}`);
        await server.end();
      }
    },
  );
});

describe("start-up on the embedded database", () => {
  /** The log lines of a start on `dataDir` (or `databaseUrl`), and how it ended. */
  const startOn = async (dataDir: string, databaseUrl?: string) => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line).msg) });
    const config = testServerConfig({ dataDir, ...(databaseUrl === undefined ? {} : { databaseUrl }) });
    const outcome = await startAnvil({ ...config, logger }).then(
      async (anvil) => {
        await anvil.close();
        return "started";
      },
      (error: unknown) => (error as Error).message,
    );
    return { lines, outcome };
  };

  it("says it opens an existing database", async () => {
    const database = await testDrivers()
      .find((driver) => driver.kind === "pglite")!
      .create();
    try {
      const { lines, outcome } = await startOn(database.dataDir);
      expect(outcome).toBe("started");
      expect(lines).toContain(`opening the embedded database in ${join(database.dataDir, "pglite")}`);
    } finally {
      await database.dispose();
    }
  });

  it("says which PostgreSQL it connects to, without the password, before it waits for it", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "anvil-database-failure-"));
    folders.push(dataDir);
    const port = await closedPort();
    const { lines, outcome } = await startOn(dataDir, `postgres://anvil:s3cret@127.0.0.1:${port}/anvil`);
    expect(outcome).toMatch(/^cannot open the database at DATABASE_URL/);
    expect(lines).toContain(`connecting to PostgreSQL at postgres://anvil@127.0.0.1:${port}/anvil`);
    expect(lines.join("\n")).not.toContain("s3cret");
  });

  it("says it creates a new one before the first start's long wait", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "anvil-database-failure-"));
    folders.push(dataDir);
    // A file where the database's folder goes: start-up fails at once, after what it said it would do.
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "pglite"), "");
    const { lines, outcome } = await startOn(dataDir);
    expect(outcome).not.toBe("started");
    expect(lines).toContain(
      `creating the embedded database in ${join(dataDir, "pglite")}: this first start takes longer (up to a minute)`,
    );
  });
});
