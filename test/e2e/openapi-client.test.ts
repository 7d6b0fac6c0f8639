import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { components, paths } from "../../sdk/openapi-types.ts";
import { startTestControlPlane } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane();
});
afterAll(() => plane?.stop());

/**
 * A client of the API made by public generators from docs/openapi.json alone:
 * openapi-typescript's types (sdk/openapi-types.ts) and openapi-fetch.
 */
describe("a client generated from the OpenAPI document", () => {
  it("submits a job, follows it to COMPLETED, and reads its logs, events and timeline", async () => {
    const api = createClient<paths>({
      baseUrl: plane.endpoint,
      headers: { authorization: `Bearer ${plane.userToken}` },
    });
    const submitted = await api.POST("/v1/jobs", {
      body: { name: "generated-client", instance: { types: ["local"] }, run: "echo trained" },
    });
    expect(submitted.response.status).toBe(201);
    const id = submitted.data?.id ?? "";

    let ended: components["schemas"]["JobView"] | undefined;
    const deadline = Date.now() + 30_000;
    while (!ended && Date.now() < deadline) {
      const { data } = await api.GET("/v1/jobs/{id}", {
        params: { path: { id }, query: { dialect: "aibro" } },
      });
      if (data?.terminal) ended = data;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(ended).toMatchObject({ phase: "COMPLETED", terminal: true });
    expect(ended?.status).toEqual({ ...ended?.dialects.aibro, status: "COMPLETED" });

    const logs = await api.GET("/v1/jobs/{id}/logs", {
      params: { path: { id }, query: { stream: "stdout", offset: 0 } },
    });
    expect(logs.data).toMatchObject({
      stream: "stdout",
      offset: 0,
      text: "trained\n",
      ended: true,
    });
    expect(logs.data?.nextOffset).toBe(logs.data?.size);

    const events = await api.GET("/v1/jobs/{id}/events", { params: { path: { id } } });
    expect(events.data?.items.map((event) => event.phase)).toContain("TRAINING");
    expect(events.data?.items.at(-1)?.dialects.aibro.status).toBe("COMPLETED");

    const timeline = await api.GET("/v1/jobs/{id}/timeline", { params: { path: { id } } });
    expect(timeline.data?.periods.map((period) => period.phase)).toContain("Model Training");

    const refused = await api.GET("/v1/jobs/{id}", { params: { path: { id: "job-nobody" } } });
    expect(refused.response.status).toBe(404);
    expect(refused.error?.error.code).toBe("NOT_FOUND");
  });
});
