import { describe, expect, it } from "vitest";
import { DataDirUnusable } from "./data-dir-lock";
import { blameEnvironment, InvalidEnvironment, readEnv } from "./env";

describe("readEnv", () => {
  it("refuses a Forge listed twice under two spellings, naming the variable", () => {
    expect(() => readEnv({ FORGE_URL: "http://gpu-1:7860,http://GPU-1:7860/" })).toThrow(
      "Invalid environment: FORGE_URL names http://gpu-1:7860 twice",
    );
  });

  it("names the variable and the item of a list that is wrong, not a path into the parsed value", () => {
    expect(() => readEnv({ FORGE_URL: "notaurl" })).toThrow(
      "Invalid environment: FORGE_URL notaurl must start with http:// or https:// (e.g. http://notaurl)",
    );
    expect(() => readEnv({ FORGE_URL: "http://127.0.0.1:3690," })).toThrow(
      "Invalid environment: FORGE_URL item 2 (empty) must be http(s) URLs separated by commas",
    );
    expect(() => readEnv({ ALLOWED_ORIGINS: "https://a.example, foo" })).toThrow(
      "Invalid environment: ALLOWED_ORIGINS item 2 foo must start with http:// or https:// (e.g. http://foo)",
    );
  });

  it("tells a URL written without its scheme to add it, with the value it meant", () => {
    expect(() => readEnv({ FORGE_URL: "gpu-box:7860" })).toThrow(
      "Invalid environment: FORGE_URL gpu-box:7860 must start with http:// or https:// (e.g. http://gpu-box:7860)",
    );
    expect(() => readEnv({ FORGE_URL: "http://gpu-1:7860,gpu-2:7860" })).toThrow(
      "Invalid environment: FORGE_URL item 2 gpu-2:7860 must start with http:// or https:// (e.g. http://gpu-2:7860)",
    );
    expect(() => readEnv({ CLUSTER_URL: "10.0.0.5:3000" })).toThrow(
      "Invalid environment: CLUSTER_URL 10.0.0.5:3000 must start with http:// (e.g. http://10.0.0.5:3000)",
    );
    expect(() => readEnv({ ALLOWED_ORIGINS: "app.example.com" })).toThrow(
      "Invalid environment: ALLOWED_ORIGINS app.example.com must start with http:// or https:// (e.g. http://app.example.com)",
    );
    // Credentials are not repeated in an example.
    const refusal = (() => {
      try {
        readEnv({ FORGE_URL: "anvil:s3cret@gpu-1:7860" });
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(refusal).toContain("must start with http:// or https://");
    expect(refusal).not.toContain("e.g.");
  });

  it("takes credentials in FORGE_URL and never repeats them in its error", () => {
    expect(readEnv({ FORGE_URL: "http://anvil:s3cret@gpu-1:7860" }).FORGE_URL).toEqual([
      "http://anvil:s3cret@gpu-1:7860",
    ]);
    expect(() => readEnv({ FORGE_URL: "http://anvil:s3cret@gpu-1:7860,ftp://anvil:s3cret@x" })).toThrow(
      "Invalid environment: FORGE_URL item 2 ftp://anvil:***@x must be http(s) URLs separated by commas",
    );
  });

  it("refuses a FORGE_URL with Forge's API path, a query or a fragment, which would 404 as if Forge had no --api", () => {
    expect(() => readEnv({ FORGE_URL: "http://anvil:s3cret@gpu-1:7860/sdapi/v1/" })).toThrow(
      "Invalid environment: FORGE_URL http://gpu-1:7860/sdapi/v1 must be Forge's base URL, without /sdapi/v1 (e.g. http://gpu-1:7860)",
    );
    expect(() => readEnv({ FORGE_URL: "https://proxy/forge/sdapi/v1/txt2img" })).toThrow(
      "must be Forge's base URL, without /sdapi/v1 (e.g. https://proxy/forge)",
    );
    expect(() => readEnv({ FORGE_URL: "http://gpu-1:7860/SDAPI/v1" })).toThrow("without /sdapi/v1");
    expect(() => readEnv({ FORGE_URL: "http://gpu-1:7860?api=1" })).toThrow(
      "Invalid environment: FORGE_URL http://gpu-1:7860/?api=1 must have no ?query or #fragment",
    );
    expect(readEnv({ FORGE_URL: "https://proxy/forge/" }).FORGE_URL).toEqual(["https://proxy/forge"]);
  });

  it("refuses a CLUSTER_URL with a path, a query or credentials, which forwarding would drop unsaid", () => {
    expect(readEnv({ CLUSTER_URL: "http://anvil-1:3000/" }).CLUSTER_URL).toBe("http://anvil-1:3000/");
    // The URL parser lowercases scheme and host: their case is no path.
    expect(readEnv({ CLUSTER_URL: "HTTP://Anvil-1:3000" }).CLUSTER_URL).toBe("HTTP://Anvil-1:3000");
    for (const [url, shown] of [
      ["http://anvil-1:3000/anvil", "http://anvil-1:3000/anvil"],
      ["http://anvil-1:3000?x=1", "http://anvil-1:3000?x=1"],
      // A password is never printed.
      ["http://u:p@anvil-1:3000", "http://u:***@anvil-1:3000"],
    ]) {
      expect(() => readEnv({ CLUSTER_URL: url })).toThrow(
        `Invalid environment: CLUSTER_URL ${shown} must be http://host:port alone, without a path, query or credentials`,
      );
    }
  });

  it("gives the cluster lease and the shutdown grace their defaults", () => {
    expect(readEnv({})).toMatchObject({ LEASE_MS: 10_000, SHUTDOWN_GRACE_MS: 25_000 });
  });

  it("takes a shutdown grace of 0 (interrupt at once) and a positive lease", () => {
    expect(readEnv({ SHUTDOWN_GRACE_MS: "0", LEASE_MS: "2500" })).toMatchObject({
      SHUTDOWN_GRACE_MS: 0,
      LEASE_MS: 2_500,
    });
  });

  it.each([
    [{ LEASE_MS: "0" }, "Invalid environment: LEASE_MS 0 must be at least 1000 (milliseconds; the default is 10000)"],
    // Ten milliseconds (someone thinking in seconds): two servers took the lease from each other 80 times in 5 s.
    [{ LEASE_MS: "10" }, "Invalid environment: LEASE_MS 10 must be at least 1000 (milliseconds; the default is 10000)"],
    [
      { LEASE_MS: "soon" },
      'Invalid environment: LEASE_MS "soon" must be a whole number in decimal digits alone, 1000..600000',
    ],
    // A lease of days: a crashed leader's cluster waited that long for the next, and its followers' calls twice that.
    [{ LEASE_MS: "2147483647" }, "Invalid environment: LEASE_MS 2147483647 must be 1000..600000"],
    [
      { SHUTDOWN_GRACE_MS: "-1" },
      'Invalid environment: SHUTDOWN_GRACE_MS "-1" must be a whole number in decimal digits alone, 0 or more',
    ],
    [{ SHUTDOWN_GRACE_MS: "2.5" }, 'Invalid environment: SHUTDOWN_GRACE_MS "2.5" must be a whole number'],
    // Past the longest timer Node.js takes, a timer fires at once: the stop would not wait at all.
    [
      { SHUTDOWN_GRACE_MS: "3000000000" },
      "Invalid environment: SHUTDOWN_GRACE_MS 3000000000 must be at most 2147483647 (about 24 days, the longest a Node.js timer waits)",
    ],
    [
      { JOB_TIMEOUT_MS: "2147483648" },
      "Invalid environment: JOB_TIMEOUT_MS 2147483648 must be at most 2147483647 (about 24 days",
    ],
    [
      { MAX_QUEUED_PER_USER: "99999999999999999999" },
      "Invalid environment: MAX_QUEUED_PER_USER 99999999999999999999 must be at most 9007199254740991",
    ],
    [
      { MAX_QUEUED_PER_USER: "1e2" },
      'Invalid environment: MAX_QUEUED_PER_USER "1e2" must be a whole number in decimal digits alone, 0 or more',
    ],
  ])("stops at %o with one line naming the variable", (source, message) => {
    expect(() => readEnv(source)).toThrow(message);
  });

  // Number() reads each of these as a number, so they once started a server on some port nobody typed.
  it.each(["1e3", "3000.0", " 3000", "3000 ", "3000\r", "0x10", "+3000", "3_000", "３０００"])(
    "refuses PORT %j, which is not a whole number in decimal digits alone, showing the value",
    (port) => {
      expect(() => readEnv({ PORT: port })).toThrow(
        `Invalid environment: PORT ${JSON.stringify(port)} must be a whole number in decimal digits alone, 0..65535`,
      );
    },
  );

  it("takes PORT in decimal digits 0..65535 (0: any free port, as the tests' servers use) and refuses one past it", () => {
    expect(readEnv({ PORT: "0" }).PORT).toBe(0);
    expect(readEnv({ PORT: "4400" }).PORT).toBe(4400);
    expect(readEnv({ PORT: "65535" }).PORT).toBe(65535);
    expect(readEnv({ PORT: "" }).PORT).toBe(3000);
    expect(() => readEnv({ PORT: "65536" })).toThrow("Invalid environment: PORT 65536 must be 0..65535");
  });

  it.each([
    "JOB_TIMEOUT_MS",
    "LEASE_MS",
    "SHUTDOWN_GRACE_MS",
    "MAX_QUEUED_PER_USER",
    "ANVIL_SIMULATOR_STEP_MS",
    "ANVIL_WEBHOOK_RETRY_MS",
  ])("refuses %s written as 1e4 or 10000.0, naming the variable and the value", (name) => {
    for (const value of ["1e4", "10000.0", " 10000", "0x2710"]) {
      expect(() => readEnv({ [name]: value })).toThrow(
        `Invalid environment: ${name} ${JSON.stringify(value)} must be a whole number in decimal digits alone`,
      );
    }
    expect(readEnv({ [name]: "10000" })).toMatchObject({ [name]: 10_000 });
  });

  it("gives JOB_TIMEOUT_MS a floor of a second, as LEASE_MS has: 5 (seconds typed as milliseconds) would time every job out at once", () => {
    expect(() => readEnv({ JOB_TIMEOUT_MS: "5" })).toThrow(
      "Invalid environment: JOB_TIMEOUT_MS 5 must be at least 1000 (milliseconds; the default is 600000)",
    );
    expect(readEnv({ JOB_TIMEOUT_MS: "1000" }).JOB_TIMEOUT_MS).toBe(1_000);
    expect(readEnv({}).JOB_TIMEOUT_MS).toBe(600_000);
  });

  it("turns model affinity on unless MODEL_AFFINITY is 0, and refuses anything but 0 or 1", () => {
    expect(readEnv({}).MODEL_AFFINITY).toBe(true);
    expect(readEnv({ MODEL_AFFINITY: "0" }).MODEL_AFFINITY).toBe(false);
    expect(readEnv({ MODEL_AFFINITY: "1" }).MODEL_AFFINITY).toBe(true);
    expect(() => readEnv({ MODEL_AFFINITY: "off" })).toThrow("Invalid environment: MODEL_AFFINITY off must be 0 or 1");
    expect(() => readEnv({ SCHEDULING: "round robin" })).toThrow(
      'Invalid environment: SCHEDULING "round robin" must be fair or fifo, in any case (FIFO is fifo)',
    );
    expect(() => readEnv({ DATABASE_URL: "mysql://root:hunter2@db/anvil" })).toThrow(
      "Invalid environment: DATABASE_URL mysql://root:***@db/anvil must be a postgres:// URL",
    );
  });

  it("prints no password of a mistaken DATABASE_URL or FORGE_URL: without a scheme, or in libpq's keyword form", () => {
    const refusal = (source: Record<string, string>) => {
      try {
        readEnv(source);
      } catch (error) {
        return String(error);
      }
      throw new Error("accepted");
    };
    const sources: Record<string, string>[] = [
      { DATABASE_URL: "host=127.0.0.1 user=postgres password=hunter2 dbname=anvil" },
      { DATABASE_URL: "host=db PASSWORD = 'hunter2 x' dbname=anvil" },
      { DATABASE_URL: "postgres:u:hunter2@db/anvil" },
      { DATABASE_URL: "anvil:hunter2@db:5432/anvil" },
      { FORGE_URL: "user:hunter2@gpu-box:7860" },
      { FORGE_URL: "http://gpu-1:7860,user:hunter2@gpu-box:7860" },
    ];
    for (const source of sources) {
      const said = refusal(source);
      expect(said, said).toMatch(/Invalid environment: (DATABASE_URL|FORGE_URL) /);
      expect(said, said).not.toContain("hunter2");
      expect(said).toContain("***");
    }
  });

  it("takes LOG_LEVEL, SCHEDULING and ANVIL_INSPECT in any case, and lists the values when it refuses one", () => {
    for (const [written, level] of [
      ["INFO", "info"],
      ["Debug", "debug"],
      ["WARN", "warn"],
      ["Silent", "silent"],
    ] as const) {
      expect(readEnv({ LOG_LEVEL: written }).LOG_LEVEL, written).toBe(level);
    }
    expect(readEnv({ SCHEDULING: "FIFO" }).SCHEDULING).toBe("fifo");
    expect(readEnv({ SCHEDULING: "Fair" }).SCHEDULING).toBe("fair");
    expect(readEnv({ ANVIL_INSPECT: "STATELY" }).ANVIL_INSPECT).toBe("stately");
    expect(() => readEnv({ LOG_LEVEL: "VERBOSE" })).toThrow(
      "Invalid environment: LOG_LEVEL VERBOSE must be one of fatal, error, warn, info, debug, trace or silent, in any case (INFO is info)",
    );
    expect(() => readEnv({ ANVIL_INSPECT: "yes" })).toThrow(
      "Invalid environment: ANVIL_INSPECT yes must be 0, 1 or stately, in any case (STATELY is stately)",
    );
  });

  it("refuses a DATABASE_URL that does not parse as a URL, saying what to look at, with no password shown", () => {
    for (const url of ["postgres://postgres@127.0.0.1:99999/anvil", "postgres://postgres@127.0.0.1:abc/anvil"]) {
      expect(() => readEnv({ DATABASE_URL: url }), url).toThrow(
        `Invalid environment: DATABASE_URL ${url} must parse as a URL: a port is a number up to 65535`,
      );
    }
    // A password with an @ in it, not percent-encoded: hidden whole, though the URL does not parse.
    expect(() => readEnv({ DATABASE_URL: "postgres://anvil:s3cr@t@db:54x32/anvil" })).toThrow(
      "Invalid environment: DATABASE_URL postgres://anvil:***@db:54x32/anvil must parse as a URL",
    );
  });

  it("refuses a DATABASE_URL with neither host nor database, which would put Anvil's tables in a default one", () => {
    for (const url of ["postgres://", "postgres:///", "postgresql:///?sslmode=require"]) {
      expect(() => readEnv({ DATABASE_URL: url }), url).toThrow(
        "must name a host or a database (is a variable in it unset?), e.g. postgres://anvil@db-host:5432/anvil",
      );
    }
    expect(() => readEnv({ DATABASE_URL: "postgres://" })).toThrow(
      "Invalid environment: DATABASE_URL postgres:// must name a host or a database",
    );
    // A host without a database: libpq's convention for the user's own database, as the driver takes it.
    for (const url of [
      "postgres://anvil@db-host:5432",
      "postgres://anvil@db-host/anvil",
      "postgres:///anvil",
      "postgres://db-host?dbname=anvil",
    ]) {
      expect(readEnv({ DATABASE_URL: url }).DATABASE_URL, url).toBe(url);
    }
  });

  it("refuses an API_TOKEN of only spaces, which would otherwise read as unset and turn sign-in off", () => {
    expect(() => readEnv({ API_TOKEN: "        " })).toThrow("Invalid environment: API_TOKEN must not be only spaces");
    // A secret is never printed, not even a wrong one.
    expect(() => readEnv({ API_TOKEN: "short" })).toThrow("Invalid environment: API_TOKEN must be at least 8");
    expect(readEnv({ API_TOKEN: "" }).API_TOKEN).toBeUndefined();
  });

  it("reads the users' settings: proxy header, allowed origins, queue limit", () => {
    expect(
      readEnv({
        AUTH_PROXY_HEADER: "X-Forwarded-User",
        ALLOWED_ORIGINS: "https://anvil.example.com, http://localhost:5173/",
        MAX_QUEUED_PER_USER: "0",
      }),
    ).toMatchObject({
      AUTH_PROXY_HEADER: "X-Forwarded-User",
      ALLOWED_ORIGINS: ["https://anvil.example.com", "http://localhost:5173"],
      MAX_QUEUED_PER_USER: 0,
    });
    expect(readEnv({})).toMatchObject({ ALLOWED_ORIGINS: [], MAX_QUEUED_PER_USER: 200 });
    expect(() => readEnv({ AUTH_PROXY_HEADER: "Cookie" })).toThrow("Invalid environment: AUTH_PROXY_HEADER");
    expect(readEnv({ ALLOWED_ORIGINS: "HTTPS://App.Example.com" }).ALLOWED_ORIGINS).toEqual([
      "https://app.example.com",
    ]);
    expect(() => readEnv({ ALLOWED_ORIGINS: "https://a.example/app" })).toThrow(
      "Invalid environment: ALLOWED_ORIGINS https://a.example/app must be origins",
    );
    // No scheme: once a TypeError ("Invalid URL") that named no variable.
    expect(() => readEnv({ ALLOWED_ORIGINS: "app.example.com" })).toThrow(
      "Invalid environment: ALLOWED_ORIGINS app.example.com must start with http:// or https://",
    );
  });

  it.each(["127.0.0.2", "0.0.0.0", "::", "::1", "localhost", "anvil_web-1.internal"])("takes HOST %s", (host) => {
    expect(readEnv({ HOST: host }).HOST).toBe(host);
  });

  it.each(["999.1.1.1", "10.0.0", "[::1]", "http://localhost"])(
    "refuses HOST %s, which is neither an IP address nor a host name",
    (host) => {
      expect(() => readEnv({ HOST: host })).toThrow(
        `Invalid environment: HOST ${host} is not an IP address or a host name`,
      );
    },
  );

  it("quotes a HOST that is not plain text, so that the line reads as the value and the refusal", () => {
    expect(() => readEnv({ HOST: "two words" })).toThrow(
      'Invalid environment: HOST "two words" is not an IP address or a host name',
    );
  });
});

describe("blameEnvironment", () => {
  const env = { HOST: "anvil.example", PORT: 4000 };

  it("names the variable behind a failure to listen or to use the DATA_DIR", () => {
    const failures: [unknown, string][] = [
      [
        Object.assign(new Error(), { code: "ENOTFOUND", syscall: "getaddrinfo", hostname: "anvil.example" }),
        "Invalid environment: HOST anvil.example is not an address of this machine (getaddrinfo ENOTFOUND)",
      ],
      [
        Object.assign(new Error(), { code: "EADDRNOTAVAIL", syscall: "listen", port: 4000 }),
        "Invalid environment: HOST anvil.example is not an address of this machine (listen EADDRNOTAVAIL)",
      ],
      [
        Object.assign(new Error(), { code: "EADDRINUSE", syscall: "listen", port: 4000 }),
        "Cannot start: PORT 4000 is in use on anvil.example by another process (listen EADDRINUSE): stop it, or set PORT to a free port",
      ],
      [
        Object.assign(new Error(), { code: "EACCES", syscall: "listen", port: 4000 }),
        "Invalid environment: PORT 4000 may not be bound by this user (listen EACCES)",
      ],
      [
        new DataDirUnusable("/etc/passwd", "is not a directory"),
        "Invalid environment: DATA_DIR /etc/passwd is not a directory",
      ],
    ];
    for (const [error, message] of failures) {
      const blamed = blameEnvironment(error, env);
      expect(blamed).toBeInstanceOf(InvalidEnvironment);
      expect(blamed?.message).toBe(message);
    }
  });

  it("blames no variable for another host that does not resolve or another port that is taken", () => {
    // A DATABASE_URL naming a host that does not resolve, a Forge's port: not HOST's or PORT's fault.
    expect(blameEnvironment(Object.assign(new Error(), { syscall: "getaddrinfo", hostname: "db.example" }), env)).toBe(
      null,
    );
    expect(
      blameEnvironment(Object.assign(new Error(), { code: "EADDRINUSE", syscall: "listen", port: 7860 }), env),
    ).toBe(null);
    expect(blameEnvironment(new Error("something else"), env)).toBe(null);
  });
});
