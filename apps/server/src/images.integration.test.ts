import { randomUUID } from "node:crypto";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
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
