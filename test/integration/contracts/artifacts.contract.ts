/**
 * What every Artifacts adapter does, run against each (fs-artifacts and s3-artifacts), so
 * the local folder and S3 cannot drift. Storing bytes is the uploader's side (a PUT to the
 * transfer's URL); each adapter's test says how bytes land in its store.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CHECKSUM_HEADER, checksumOf, inputKey } from "../../../lambdas/domain/artifacts.ts";
import type { Artifacts } from "../../../lambdas/ports.ts";

export interface ArtifactsUnderTest {
  /** Lists outputs two to a page. */
  artifacts: Artifacts;
  /** Puts `bytes` under `key` as an upload to the key's transfer would. */
  store(key: string, bytes: Buffer): Promise<void>;
}

const file = (text: string) => {
  const bytes = Buffer.from(text);
  return {
    bytes,
    size: bytes.byteLength,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
};

export const artifactsContract = (name: string, setup: () => Promise<ArtifactsUnderTest>) =>
  describe(`${name} keeps the Artifacts contract`, () => {
    // S3's URLs name the owner; the local routes take the owner from the caller instead.
    const inputPath = (sha256: string) => new RegExp(`/inputs/([^/]+/)?${sha256}$`);

    it("hands out an input's PUT until the input is stored, then says it is", async () => {
      const { artifacts, store } = await setup();
      const input = file("weights");
      const first = await artifacts.inputUpload("ada", input);
      if (first.stored) throw new Error("an input nobody uploaded is stored");
      expect(new URL(first.upload.url).pathname).toMatch(inputPath(input.sha256));
      expect(first.upload.headers).toEqual({ [CHECKSUM_HEADER]: checksumOf(input.sha256) });
      expect(await artifacts.inputStored("ada", input.sha256)).toBe(false);
      await store(inputKey("ada", input.sha256), input.bytes);
      expect(await artifacts.inputUpload("ada", input)).toEqual({ stored: true });
      expect(await artifacts.inputStored("ada", input.sha256)).toBe(true);
      expect(new URL(await artifacts.inputDownload("ada", input.sha256)).pathname).toMatch(
        inputPath(input.sha256),
      );
    });

    it("keeps each owner's inputs apart: another owner's copy of the bytes counts for nothing", async () => {
      const { artifacts, store } = await setup();
      const input = file("ada's data");
      await store(inputKey("ada", input.sha256), input.bytes);
      for (const stranger of ["bob", "ad", "ada/x", "github|ada"]) {
        expect(await artifacts.inputStored(stranger, input.sha256)).toBe(false);
        expect(await artifacts.inputUpload(stranger, input)).toMatchObject({ stored: false });
      }
      await store(inputKey("github|ada", input.sha256), input.bytes);
      expect(await artifacts.inputStored("github|ada", input.sha256)).toBe(true);
      expect(await artifacts.inputStored("bob", input.sha256)).toBe(false);
      expect(await artifacts.inputUpload("ada", input)).toEqual({ stored: true });
    });

    it("hands out a result's PUT under its job, bound to the file's checksum", async () => {
      const { artifacts, store } = await setup();
      const result = file("{}");
      const upload = await artifacts.resultUpload("job-1", { path: "results/a b.json", ...result });
      expect(new URL(upload.url).pathname).toMatch(/\/jobs\/job-1\/results\/a%20b\.json$/);
      expect(upload.headers).toEqual({ [CHECKSUM_HEADER]: checksumOf(result.sha256) });
      expect(await artifacts.listOutputs("job-1")).toEqual({ items: [] });
      await store("jobs/job-1/results/a b.json", result.bytes);
      expect(await artifacts.listOutputs("job-1")).toEqual({ items: ["results/a b.json"] });
      expect(new URL(await artifacts.outputDownload("job-1", "results/a b.json")).pathname).toMatch(
        /\/jobs\/job-1\/results\/a%20b\.json$/,
      );
    });

    it("lists a job's outputs in key order, page by page, and no other job's", async () => {
      const { artifacts, store } = await setup();
      const paths = ["a.txt", "logs/stderr.log", "logs/stdout.log", "results/model.json", "z"];
      for (const path of [...paths].reverse()) await store(`jobs/job-1/${path}`, Buffer.from(path));
      await store("jobs/job-10/a.txt", Buffer.from("another job's"));
      const listed: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await artifacts.listOutputs("job-1", cursor ? { cursor } : {});
        expect(page.items.length).toBeLessThanOrEqual(2);
        listed.push(...page.items);
        cursor = page.cursor;
        pages++;
      } while (cursor);
      expect(listed).toEqual(paths);
      expect(pages).toBe(3);
      expect(await artifacts.listOutputs("job-2")).toEqual({ items: [] });
    });

    it("reads a range of a result file with the file's size; nothing of a missing one", async () => {
      const { artifacts, store } = await setup();
      await store("jobs/job-1/logs/stdout.log", Buffer.from("hello world"));
      const read = async (offset: number, length: number) => {
        const { bytes, size } = await artifacts.readResult("job-1", "logs/stdout.log", {
          offset,
          length,
        });
        return { text: Buffer.from(bytes).toString(), size };
      };
      expect(await read(0, 5)).toEqual({ text: "hello", size: 11 });
      expect(await read(6, 100)).toEqual({ text: "world", size: 11 });
      expect(await read(11, 10)).toEqual({ text: "", size: 11 });
      expect(await read(50, 10)).toEqual({ text: "", size: 11 });
      const other = { offset: 0, length: 10 };
      expect(await artifacts.readResult("job-2", "logs/stdout.log", other)).toEqual({
        bytes: new Uint8Array(),
        size: 0,
      });
      expect(await artifacts.readResult("job-1", "logs/stderr.log", other)).toMatchObject({
        size: 0,
      });
    });
  });
