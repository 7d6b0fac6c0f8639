import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { FsArtifacts } from "../../../lambdas/adapters/local/fs-artifacts.ts";
import { artifactsContract } from "./artifacts.contract.ts";

const roots: string[] = [];
afterAll(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

artifactsContract("FsArtifacts", async () => {
  const root = await mkdtemp(join(tmpdir(), "gpuctl-artifacts-"));
  roots.push(root);
  const artifacts = new FsArtifacts(root, "http://127.0.0.1:8080", { pageSize: 2 });
  return {
    artifacts,
    // What the local artifact routes do with a PUT: write it, checked against its announcement.
    store: async (key, bytes) => {
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const written = await artifacts.write(key.split("/"), new Response(bytes).body, {
        size: bytes.byteLength,
        sha256,
      });
      if (!written.ok) throw new Error(written.message);
    },
  };
});
