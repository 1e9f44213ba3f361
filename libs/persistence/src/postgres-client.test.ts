import { createServer } from "node:net";
import type { AddressInfo, Server } from "node:net";
import { DrizzleQueryError } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { bracketedHost, isDatabaseUnreachable, postgresClient } from "./postgres-client";

/**
 * A TCP server that accepts every connection and closes it at once, cleanly (FIN, not a reset), as a proxy or
 * pooler in front of a stopped database does.
 */
async function acceptAndClose(): Promise<{ server: Server; port: number; attempts: () => number }> {
  let attempts = 0;
  const server = createServer((socket) => {
    attempts += 1;
    socket.on("error", () => socket.destroy());
    // Reading what the client sends keeps the close a FIN: unread data would make the kernel send a reset.
    socket.resume();
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, attempts: () => attempts };
}

describe("postgresClient", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("fails a query, once per attempt, when the server closes the connection before it answers", async () => {
    const { server, port, attempts } = await acceptAndClose();
    servers.push(server);
    const sql = postgresClient(`postgres://anvil@127.0.0.1:${port}/anvil`, 2);
    try {
      for (let i = 1; i <= 3; i++) {
        const failure = await sql`select 1`.then(
          () => null,
          (error: unknown) => error,
        );
        expect(isDatabaseUnreachable(failure)).toBe(true);
        // One connection per query: the driver does not retry in a loop behind the caller's back.
        expect(attempts()).toBe(i);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("fails a query, once per attempt, when something else than PostgreSQL answers there", async () => {
    let attempts = 0;
    // An HTTP server on the wrong port: it reads the startup message, answers its own error and closes.
    const server = createServer((socket) => {
      attempts += 1;
      socket.on("error", () => socket.destroy());
      socket.once("data", () => socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const sql = postgresClient(`postgres://anvil@127.0.0.1:${(server.address() as AddressInfo).port}/anvil`, 1);
    try {
      for (let i = 1; i <= 2; i++) {
        const failure = await sql`select 1`.then(
          () => null,
          (error: unknown) => error as Error,
        );
        expect(failure?.message).toMatch(/does not speak PostgreSQL's protocol \(it answered "HTTP\/1\.1 400 Bad/);
        expect(isDatabaseUnreachable(failure)).toBe(true);
        expect(attempts).toBe(i);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("fails a query when nothing listens on the port", async () => {
    const { server, port } = await acceptAndClose();
    await new Promise((resolve) => server.close(resolve));
    const sql = postgresClient(`postgres://anvil@127.0.0.1:${port}/anvil`, 1);
    try {
      await expect(sql`select 1`).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe("isDatabaseUnreachable", () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it("recognises lost connections, also wrapped in drizzle's query error, and a server shutting down", () => {
    expect(isDatabaseUnreachable(withCode("ECONNREFUSED"))).toBe(true);
    expect(isDatabaseUnreachable(new DrizzleQueryError("select 1", [], withCode("CONNECTION_CLOSED")))).toBe(true);
    expect(isDatabaseUnreachable(withCode("57P01"))).toBe(true);
    expect(isDatabaseUnreachable(withCode("08006"))).toBe(true);
  });

  it("does not mistake a failed query for an unreachable database", () => {
    expect(isDatabaseUnreachable(withCode("42601"))).toBe(false);
    expect(isDatabaseUnreachable(withCode("23505"))).toBe(false);
    expect(isDatabaseUnreachable(new Error("boom"))).toBe(false);
    expect(isDatabaseUnreachable("ECONNRESET")).toBe(false);
  });
});

describe("isDatabaseUnreachable", () => {
  const failure = (fields: Record<string, string>) =>
    Object.assign(new Error(fields["message"] ?? "failed"), fields) as Error & Record<string, string>;

  it("counts a database that refuses new connections as away, and not every 55000", () => {
    // What PostgreSQL answers a connection to a database with allow_connections off (postinit.c's CheckMyDatabase).
    const refused = failure({
      code: "55000",
      routine: "CheckMyDatabase",
      message: 'database "anvil" is not currently accepting connections',
    });
    expect(isDatabaseUnreachable(new DrizzleQueryError("select 1", [], refused))).toBe(true);
    expect(
      isDatabaseUnreachable(failure({ code: "28P01", message: 'password authentication failed for user "anvil"' })),
    ).toBe(true);
    expect(isDatabaseUnreachable(failure({ code: "3D000", message: 'database "anvil" does not exist' }))).toBe(true);
    // The same code for a statement that can never succeed: that write is wrong, and trying it again cannot help.
    const wrong = failure({
      code: "55000",
      routine: "CheckCmdReplicaIdentity",
      message: 'cannot update table "jobs" because it does not have a replica identity and publishes updates',
    });
    expect(isDatabaseUnreachable(wrong)).toBe(false);
  });
});

describe("bracketedHost", () => {
  it("gives the driver an IPv6 host without its brackets, which it would cut at the first colon", () => {
    expect(bracketedHost("postgres://anvil@[::1]:5399/anvil")).toEqual({ host: ["::1"], port: [5399] });
    expect(bracketedHost("postgres://anvil@[fd00::2]/anvil")).toEqual({ host: ["fd00::2"], port: [5432] });
    expect(bracketedHost("postgres://anvil@db-host:5399/anvil")).toEqual({});
    expect(bracketedHost("postgres://anvil@127.0.0.1/anvil")).toEqual({});
  });
});
