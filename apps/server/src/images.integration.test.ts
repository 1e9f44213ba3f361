import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FileImageStore, IMAGE_CHUNK_BYTES, openDatabase, PgImageStore } from "@anvil/persistence";
import { beforeAll, describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "./testing/fixtures";
import { rawGet } from "./testing/raw-http";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitForStatus } from "./testing/wait";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.each(testDrivers())("/images on $kind", (driver) => {
  const server = useTestServer(driver);

  it("serves a finished job's image as a real PNG", async () => {
    const { trpc, url } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("a red barn"), ...quick });
    const { imageUrl } = await waitForStatus(trpc, job.id, "complete");
    expect(imageUrl).toBe(`/images/${job.id}.png`);

    const response = await fetch(`${url}${imageUrl}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-disposition")).toBe(`inline; filename="anvil-${job.id}.png"`);
    // Without sign-in nobody's image is private: shared caches may keep it (docs/API.md, "Images").
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    // The IHDR chunk comes first and carries the size asked for.
    expect(body.subarray(12, 16).toString("latin1")).toBe("IHDR");
    expect([body.readUInt32BE(16), body.readUInt32BE(20)]).toEqual([64, 64]);
    // A UUID is the same in capitals (jobs.get takes it so): the image too, under the name it was made with.
    const shouted = await fetch(`${url}/images/${job.id.toUpperCase()}.png`);
    expect(shouted.status).toBe(200);
    expect(shouted.headers.get("content-disposition")).toBe(`inline; filename="anvil-${job.id}.png"`);
  });

  it("is 404 for an image that does not exist", async () => {
    const response = await fetch(`${server().url}/images/${randomUUID()}.png`);
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).not.toBe("image/png");
  });

  describe("ranges", () => {
    // A WebP larger than three of PostgreSQL's chunks: a range may start and end in any of them, and its type is
    // told by bytes it does not include.
    const image = Buffer.concat([
      Buffer.from("RIFF\0\0\0\0WEBPVP8 ", "latin1"),
      randomBytes(3 * IMAGE_CHUNK_BYTES + 100 - 16),
    ]);
    const size = image.length;
    let path = "";
    let etag = "";

    beforeAll(async () => {
      const { trpc, dataDir, databaseUrl } = server();
      const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("a ranged barn"), ...quick });
      await waitForStatus(trpc, job.id, "complete");
      // Stored over the simulator's small image, where this server keeps its images.
      if (databaseUrl) {
        const database = await openDatabase({ url: databaseUrl });
        try {
          await new PgImageStore(database).write(job.id, image);
        } finally {
          await database.close();
        }
      } else {
        await new FileImageStore(join(dataDir, "images")).write(job.id, image);
      }
      path = `${server().url}/images/${job.id}.png`;
      etag = `"${job.id}"`;
    });

    const get = (headers: Record<string, string>, method = "GET") => fetch(path, { headers, method });
    const whole = async (response: Response) => {
      expect(response.status).toBe(200);
      expect(response.headers.get("accept-ranges")).toBe("bytes");
      expect(response.headers.get("content-range")).toBeNull();
      expect(Buffer.from(await response.arrayBuffer()).equals(image)).toBe(true);
    };

    it("says on every image that it serves byte ranges, with a strong ETag", async () => {
      const response = await get({});
      expect(response.headers.get("etag")).toBe(etag);
      expect(response.headers.get("content-type")).toBe("image/webp");
      await whole(response);
    });

    it.each([
      ["bytes=0-99", 0, 99],
      ["bytes=20-", 20, size - 1],
      ["bytes=-500", size - 500, size - 1],
      [`bytes=${IMAGE_CHUNK_BYTES - 3}-${2 * IMAGE_CHUNK_BYTES + 2}`, IMAGE_CHUNK_BYTES - 3, 2 * IMAGE_CHUNK_BYTES + 2],
      [`bytes=${size - 1}-${size * 10}`, size - 1, size - 1],
      [`bytes=-${size * 2}`, 0, size - 1],
      ["BYTES=7-7", 7, 7],
      // Too few bytes to tell a WebP by: the type is read from the image's start all the same.
      ["bytes=0-3", 0, 3],
    ])("answers %s with those bytes alone, as a 206", async (range, start, end) => {
      const response = await get({ range });
      expect(response.status).toBe(206);
      expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${size}`);
      expect(response.headers.get("content-length")).toBe(String(end - start + 1));
      expect(response.headers.get("content-type")).toBe("image/webp");
      expect(response.headers.get("accept-ranges")).toBe("bytes");
      expect(response.headers.get("etag")).toBe(etag);
      expect(Buffer.from(await response.arrayBuffer()).equals(image.subarray(start, end + 1))).toBe(true);
    });

    it.each([`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, "bytes=-0"])(
      "is 416 with the image's size for %s, which lies past its end",
      async (range) => {
        const response = await get({ range });
        expect(response.status).toBe(416);
        expect(response.headers.get("content-range")).toBe(`bytes */${size}`);
        expect(response.headers.get("accept-ranges")).toBe("bytes");
        const body = (await response.json()) as { error: { message: string; data: { httpStatus: number } } };
        expect(body.error.data.httpStatus).toBe(416);
        expect(body.error.message).toContain(`${size} bytes`);
      },
    );

    it.each(["bytes=0-1,5-9", "bytes=abc", "items=0-1", "bytes=10-5", "bytes=-", "bytes=1.5-2", "0-1"])(
      "answers %s, which it does not serve, with the whole image",
      async (range) => {
        await whole(await get({ range }));
      },
    );

    it("serves the range when If-Range is the image's ETag, and the whole image for anything else", async () => {
      const ranged = await get({ range: "bytes=0-9", "if-range": etag });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(image.subarray(0, 10))).toBe(true);
      for (const other of [`"${randomUUID()}"`, `W/${etag}`, new Date().toUTCString()]) {
        await whole(await get({ range: "bytes=0-9", "if-range": other }));
      }
    });

    it("is 304 when If-None-Match names its ETag", async () => {
      const unchanged = await get({ "if-none-match": `"other", ${etag}` });
      expect(unchanged.status).toBe(304);
      expect(unchanged.headers.get("etag")).toBe(etag);
      await whole(await get({ "if-none-match": `"${randomUUID()}"` }));
    });

    it("is 405 for a method that does not read, even one sent with the image's ETag", async () => {
      for (const method of ["POST", "PUT", "DELETE"]) {
        const response = await get({ "if-none-match": etag }, method);
        expect(response.status).toBe(405);
        expect(response.headers.get("allow")).toBe("GET, HEAD");
        expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
          `${method} is not a way to ask for an image: use GET`,
        );
      }
      // Still there, whole.
      await whole(await get({}));
    });

    it("answers a HEAD with a range as the whole image's GET, without the body", async () => {
      const response = await get({ range: "bytes=0-9" }, "HEAD");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-length")).toBe(String(size));
      expect(response.headers.get("accept-ranges")).toBe("bytes");
      expect(response.headers.get("content-range")).toBeNull();
    });
  });

  describe("outside the images folder", () => {
    // The images live in <dataDir>/images; secrets sit one level up, beside the folder.
    const SECRET = `secret-${randomUUID()}`;
    const linkToSecret = randomUUID();
    const linkToPasswd = randomUUID();
    const exposed = (body: Buffer) => {
      const text = body.toString("latin1");
      return text.includes(SECRET) || /root:[^\n]*:0:0:/.test(text);
    };

    beforeAll(async () => {
      const { dataDir } = server();
      const images = join(dataDir, "images");
      await mkdir(images, { recursive: true });
      await writeFile(join(dataDir, "secret.txt"), SECRET);
      // Named and shaped like an image, so only where it lies can give it away.
      await writeFile(join(dataDir, `${linkToSecret}.png`), Buffer.concat([PNG_SIGNATURE, Buffer.from(SECRET)]));
      await symlink(join(dataDir, `${linkToSecret}.png`), join(images, `${linkToSecret}.png`));
      await symlink("/etc/passwd", join(images, `${linkToPasswd}.png`));
    });

    it.each([
      "/images/../secret.txt",
      "/images/../../../../../../../../etc/passwd",
      "/images/%2e%2e/secret.txt",
      "/images/%2e%2e%2fsecret.txt",
      "/images/%2E%2E%2Fsecret.txt",
      "/images/..%2fsecret.txt",
      "/images/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
      "/images/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/images/%252e%252e%252fsecret.txt",
      "/images/..%5csecret.txt",
      "/images/....//secret.txt",
      "/images/%2fetc%2fpasswd",
      "/images//etc/passwd",
      "/images/x/../../secret.txt",
    ])("never serves what %s points at", async (path) => {
      const response = await rawGet(server().url, path);
      expect(exposed(response.body)).toBe(false);
      expect(response.status).toBeLessThan(500);
    });

    it("is 404 for a symlink in the images folder that points outside it", async () => {
      const { url } = server();
      for (const id of [linkToSecret, linkToPasswd]) {
        const response = await rawGet(url, `/images/${id}.png`);
        expect(response.status).toBe(404);
        expect(exposed(response.body)).toBe(false);
      }
    });
  });
});
