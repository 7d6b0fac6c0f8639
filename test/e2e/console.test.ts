/**
 * The web console in a real headless Chromium (Debian's, driven by playwright-core) against
 * the real local control plane: a user signs in with email and password, sees their jobs
 * in each dialect, a finished job's cost, charts, events and logs, and their instance's
 * cooling plan and cost; another user, signed in with a pasted token, sees none of it; text that looks like
 * markup stays text; signing out revokes the sign-in's token.
 */

import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TIMELINE_PHASES } from "../../lambdas/domain/timeline.ts";
import { buildConsole } from "../../scripts/build-console.ts";
import type { JobView } from "../../sdk/api-types.ts";
import { GpuctlClient } from "../../sdk/client.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

const MARKUP = "<img src=x onerror=alert(1)>";
const ADA = { email: "ada@example.org", password: "correct horse battery staple" };
const BOB = { email: "bob@example.org", password: "another long passphrase" };

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let browser: Browser;
let ada: GpuctlClient;
let bobToken: string;
let job: JobView;
/** A job whose only attempt exits non-zero: FAILED, which AIbro has no status for. */
let failedJob: JobView;
/** Every dialog a page opened (an `alert` would be one), and every error it logged. */
const dialogs: string[] = [];
const pageErrors: string[] = [];

/** A new browser context, as a person opening the console in a fresh window. */
const openConsole = async (): Promise<{ context: BrowserContext; page: Page }> => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  return { context, page };
};

/** Signs in on the console's sign-in page with email and password. */
const signIn = async (page: Page, user: typeof ADA) => {
  await page.fill("#sign-in-password input[name=email]", user.email);
  await page.fill("#sign-in-password input[name=password]", user.password);
  await page.click("#sign-in-password button");
};

/** The colours of a PNG with at least `minPixels` pixels each. */
const coloursOf = (png: Buffer, minPixels = 40): string[] => {
  const { data } = PNG.sync.read(png);
  const counts = new Map<string, number>();
  for (let at = 0; at < data.length; at += 4) {
    const colour = `${data[at]},${data[at + 1]},${data[at + 2]}`;
    counts.set(colour, (counts.get(colour) ?? 0) + 1);
  }
  return [...counts].filter(([, count]) => count >= minPixels).map(([colour]) => colour);
};

/** The job once it has ended, or as it is after 30 seconds. */
const untilTerminal = async (id: string): Promise<JobView> => {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = await ada.getJob(id);
    if (found.terminal || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

beforeAll(async () => {
  await buildConsole();
  plane = await startTestControlPlane();
  await plane.client.addUser({ ...ADA, role: "user" });
  ada = new GpuctlClient({
    endpoint: plane.endpoint,
    token: (await plane.client.login(ADA)).token,
  });
  // The first token an admin gives a new user: not a sign-in's.
  bobToken = (await plane.client.addUser({ ...BOB, role: "user" })).token.token;
  // Its output looks like markup: the console must show it as text.
  const submitted = await ada.submitJob(
    trainingSpec({
      name: "console-train",
      run: `echo '${MARKUP}'; echo '${MARKUP}' >&2; python3 -c "print('trained')"`,
      coolingPeriodS: 300,
    }),
  );
  const failing = await ada.submitJob(
    trainingSpec({ name: "console-fail", run: "exit 3", backoffLimit: 0, outputs: [] }),
  );
  job = await untilTerminal(submitted.id);
  expect(job.phase).toBe("COMPLETED");
  failedJob = await untilTerminal(failing.id);
  expect(failedJob.phase).toBe("FAILED");
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await plane?.stop();
});

describe("the web console", () => {
  it("signs a user in with email and password, and lists their jobs in each dialect", async () => {
    const { context, page } = await openConsole();
    const response = await page.goto(`${plane.endpoint}/console/`);
    expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'");
    await signIn(page, ADA);
    const row = page.locator("#jobs tbody tr", { hasText: job.id });
    await row.waitFor();
    expect(await page.locator("#who").textContent()).toBe(ADA.email);
    expect(await row.locator("td").allTextContents()).toEqual([
      job.id,
      "console-train",
      "training",
      "COMPLETED",
      "COMPLETED",
      "COMPLETED",
      expect.any(String),
      expect.any(String),
    ]);
    // The token stays in this tab's storage, out of every URL.
    const token = await page.evaluate("sessionStorage.getItem('gpuctl.token')");
    expect(token).toMatch(/^gpuctl_/);
    expect(page.url()).not.toContain(String(token));

    await page.selectOption("#dialect", "runai");
    await page.locator("#jobs th", { hasText: "Resources allocated" }).waitFor();
    expect(await row.locator("td").nth(3).textContent()).toBe("Succeeded");
    await page.selectOption("#dialect", "modelarts");
    await page.locator("#jobs th", { hasText: "Code" }).waitFor();
    expect(await row.locator("td").nth(3).textContent()).toBe("JOBSTAT_COMPLETED");
    expect(await row.locator("td").nth(4).textContent()).toBe("10");
    await context.close();
  });

  it("tells a failed job from a canceled one by its phase and reason, in every dialect", async () => {
    const { context, page } = await openConsole();
    await page.goto(`${plane.endpoint}/console/`);
    await signIn(page, ADA);
    const row = page.locator("#jobs tbody tr", { hasText: failedJob.id });
    await row.waitFor();
    // AIbro has no failed status: only the phase column tells the two apart.
    expect(await row.locator("td").allTextContents()).toEqual([
      failedJob.id,
      "console-fail",
      "training",
      "CANCELED",
      "CANCELED",
      "FAILED (EXIT_CODE)",
      expect.any(String),
      expect.any(String),
    ]);
    await page.selectOption("#dialect", "modelarts");
    await page.locator("#jobs th", { hasText: "Code" }).waitFor();
    expect(await row.locator("td").nth(5).textContent()).toBe("FAILED (EXIT_CODE)");
    await context.close();
  });

  it("shows a finished job's status and cost, its funnel and pie, its events and its logs", async () => {
    const { context, page } = await openConsole();
    await page.goto(`${plane.endpoint}/console/`);
    await signIn(page, ADA);
    await page.click(`#jobs a:text-is("${job.id}")`);
    await page.locator("#events tbody tr", { hasText: "COMPLETED" }).waitFor();
    expect(await page.locator("h1").textContent()).toBe("console-train");
    expect(await page.locator("#status dd").first().textContent()).toBe("COMPLETED");
    // Local instances are on no bill: $0, with the parts of the job's time on one.
    expect(await page.locator("#status dt:text-is('Cost') + dd").textContent()).toMatch(
      /^\$0\.00 estimated from list prices \(boot \d+s \$0\.00, running \d+s \$0\.00\)$/,
    );

    const periods = (await ada.jobTimeline(job.id)).periods.map((period) => period.phase);
    expect(periods).toContain("Model Training");
    for (const chart of ["funnel", "pie"]) {
      const svg = page.locator(`#chart-${chart} svg`);
      const labels = await svg.locator("text").allTextContents();
      for (const phase of periods) expect(labels.join("\n")).toContain(phase);
      for (const phase of TIMELINE_PHASES.filter((name) => !periods.includes(name)))
        expect(labels).not.toContain(phase);
      // Drawn, not blank: a background and a colour per period at least.
      expect(coloursOf(await svg.screenshot()).length).toBeGreaterThan(periods.length);
    }

    const events = page.locator("#events tbody tr");
    const first = await events.first().locator("td").allTextContents();
    expect(first.slice(1, 5)).toEqual(["submitted", "SUBMITTED", "", ADA.email]);
    const last = await events.last().locator("td").allTextContents();
    expect(last.slice(2, 7)).toEqual([
      "RETURNING → COMPLETED",
      "",
      "control plane",
      "COMPLETED",
      "COMPLETED",
    ]);
    expect(await events.count()).toBe((await ada.jobEvents(job.id)).length);

    // The logs, the job's markup in them shown as text.
    await page.locator("#log-stdout", { hasText: "trained" }).waitFor();
    expect(await page.locator("#log-stdout").textContent()).toContain(MARKUP);
    expect(await page.locator("#log-stderr").textContent()).toContain(MARKUP);
    expect(await page.locator("main img").count()).toBe(0);
    await context.close();
  });

  it("shows the user's instances with their cooling plan and their cost", async () => {
    const [instance] = await ada.listInstances();
    expect(instance).toMatchObject({ status: "COOLING", coolingUntil: expect.any(String) });
    const { context, page } = await openConsole();
    await page.goto(`${plane.endpoint}/console/#/instances`);
    await signIn(page, ADA);
    const row = page.locator("#instances tbody tr", { hasText: instance?.id ?? "-" });
    await row.waitFor();
    const cells = row.locator("td");
    // Cooling: no job holds it; its plan says when it stops, then when it is terminated.
    expect((await cells.allTextContents()).slice(0, 6)).toEqual([
      instance?.id,
      "COOLING",
      "COOLING",
      "local",
      "on-demand",
      "",
    ]);
    expect(await cells.nth(6).locator("time").getAttribute("datetime")).toBe(
      instance?.coolingUntil,
    );
    expect(await cells.nth(7).locator("time").getAttribute("datetime")).toBe(
      instance?.stoppedUntil,
    );
    expect(await page.locator("#instances th").last().textContent()).toBe("Cost");
    const cost = cells.nth(9).locator("span");
    expect(await cost.textContent()).toBe("$0.00");
    expect(await cost.getAttribute("title")).toMatch(
      /^\$0\.00 estimated from list prices \(.*running \d+s \$0\.00/,
    );
    await context.close();
  });

  it("shows another user, signed in with a pasted token, none of the first one's", async () => {
    const { context, page } = await openConsole();
    await page.goto(`${plane.endpoint}/console/`);
    await page.fill("#sign-in-token input[name=token]", bobToken);
    await page.click("#sign-in-token button");
    await page.locator("main", { hasText: "No jobs yet" }).waitFor();
    expect(await page.locator("#who").textContent()).toBe(BOB.email);
    await page.click("nav a:text-is('Instances')");
    await page.locator("main", { hasText: "No instances." }).waitFor();
    await page.goto(`${plane.endpoint}/console/#/jobs/${job.id}`);
    await page.locator("#notice", { hasText: `job ${job.id} not found` }).waitFor();
    expect(await page.locator("main").textContent()).not.toContain("console-train");

    // A pasted token is not the console's to revoke: it still works after signing out.
    await page.click("#sign-out");
    await page.locator("main", { hasText: "still works" }).waitFor();
    expect(
      (await new GpuctlClient({ endpoint: plane.endpoint, token: bobToken }).whoami()).email,
    ).toBe(BOB.email);
    await context.close();
  });

  it("shows markup in a link's job id as text, and revokes the sign-in's token on sign-out", async () => {
    const { context, page } = await openConsole();
    await page.goto(`${plane.endpoint}/console/`);
    await signIn(page, ADA);
    await page.locator("#jobs").waitFor();
    await page.goto(`${plane.endpoint}/console/#/jobs/${encodeURIComponent(MARKUP)}`);
    // No job id holds markup: the API refuses it, naming the id, and the page says so.
    await page.locator("#notice", { hasText: "id must be letters" }).waitFor();
    expect(await page.locator("h1").textContent()).toBe(MARKUP);
    expect(await page.locator("img").count()).toBe(0);

    const token = String(await page.evaluate("sessionStorage.getItem('gpuctl.token')"));
    await page.click("#sign-out");
    await page.locator("main", { hasText: "token is revoked" }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('gpuctl.token')")).toBeNull();
    await expect(
      new GpuctlClient({ endpoint: plane.endpoint, token }).whoami(),
    ).rejects.toMatchObject({ status: 401 });
    await context.close();
  });

  it("follows a running job's page until it ends, without a reload", async () => {
    const running = await ada.submitJob(
      trainingSpec({ name: "console-follow", run: "echo started; sleep 5; echo finished" }),
    );
    const { context, page } = await openConsole();
    await page.goto(`${plane.endpoint}/console/#/jobs/${running.id}`);
    await signIn(page, ADA);
    const status = page.locator("#status dd").first();
    await status.filter({ hasText: /^(QUEUING|TRAINING)$/ }).waitFor();
    await status.filter({ hasText: /^COMPLETED$/ }).waitFor({ timeout: 45_000 });
    expect(await page.locator("#events tbody tr").last().textContent()).toContain("COMPLETED");
    expect(await page.locator("#chart-pie svg text", { hasText: "Model Training" }).count()).toBe(
      1,
    );
    await context.close();
  }, 60_000);

  it("opened no dialog and broke no rule of the page's policy", () => {
    expect(dialogs).toEqual([]);
    expect(pageErrors.filter((error) => !/ 40[014] /.test(error))).toEqual([]);
  });
});
