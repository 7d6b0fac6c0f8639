import { describe, expect, it } from "vitest";
import type { ReviewView } from "../../../sdk/api-types.ts";
import { apiError, calls, fakeApiPerTest } from "../sdk/fake-api.ts";
import { controlCharacters, gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();

const review = (fields: Partial<ReviewView> = {}): ReviewView => ({
  id: "job-1",
  name: "train-resnet",
  kind: "training",
  owner: "u-ada",
  ownerEmail: "ada@example.org",
  review: "INIT",
  instanceTypes: ["g5.xlarge", "g5.2xlarge"],
  spot: true,
  workers: 1,
  submittedAt: new Date(Date.now() - 3 * 3_600_000).toISOString(),
  updatedAt: new Date(Date.now() - 10 * 60_000).toISOString(),
  ...fields,
});

describe("gpuctl reviews", () => {
  it("prints a table of the jobs awaiting review, with their owner and what they cost", async () => {
    // A removed user's job has no email left to show: its owner's id stands in.
    const { ownerEmail, ...ofRemovedUser } = review({ id: "job-2", timeoutS: 3600 });
    const api = await serve(() => ({ json: { items: [review(), ofRemovedUser] } }));
    const result = await gpuctl(["reviews"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(
      result.stdout
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((line) => line.split(/\s{2,}/)),
    ).toEqual([
      [
        "job-1",
        "train-resnet",
        "ada@example.org",
        "INIT",
        "g5.xlarge,g5.2xlarge",
        "spot",
        "-",
        "10m",
      ],
      ["job-2", "train-resnet", "u-ada", "INIT", "g5.xlarge,g5.2xlarge", "spot", "3600s", "10m"],
    ]);
    expect(calls(api)).toEqual(["GET /v1/reviews?limit=20"]);
  });

  it("shows what the server says without escape sequences", async () => {
    const api = await serve(() => ({
      json: { items: [review({ ownerEmail: "eve\x1b[2J\x9b1;1H@example.org" })] },
    }));
    const result = await gpuctl(["reviews"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(controlCharacters(result.stdout)).toEqual([]);
    expect(result.stdout).toContain("eve@example.org");
  });

  it("prints JSON, following the cursor past a page its filter left empty", async () => {
    const api = await serve((request) => {
      const cursor = request.query.get("cursor");
      if (!cursor) return { json: { items: [], cursor: "c1" } };
      return { json: { items: [review({ id: `job-${cursor}` })] } };
    });
    const result = await gpuctl(["reviews", "-o", "json"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as ReviewView[]).map((each) => each.id)).toEqual(["job-c1"]);
    expect(calls(api)).toEqual(["GET /v1/reviews?limit=20", "GET /v1/reviews?limit=20&cursor=c1"]);
  });

  it("says so when nothing awaits review, and passes on a plain user's 403", async () => {
    const empty = await serve(() => ({ json: { items: [] } }));
    expect(await gpuctl(["reviews"], { endpoint: empty.endpoint })).toMatchObject({
      code: 0,
      stdout: "no jobs await review\n",
    });
    await empty.close();
    const refusing = await serve(() =>
      apiError(403, "FORBIDDEN", "only a reviewer or an admin lists reviews"),
    );
    expect(await gpuctl(["reviews"], { endpoint: refusing.endpoint })).toEqual({
      code: 1,
      stdout: "",
      stderr: "gpuctl: only a reviewer or an admin lists reviews\n",
    });
  });
});
