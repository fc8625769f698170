/**
 * batch_report.html in a real browser: Debian's headless Chromium opens the page from disk
 * (file://, every network request refused and recorded), and the test checks the table, sorting,
 * filtering, the charts and that a hostile error message stays text. A screenshot is saved under
 * a temp folder (its path is printed).
 *
 * Gate: skipped with a reason when /usr/bin/chromium is absent, unless CI is set (then it fails).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext, Page } from "playwright-core";
import { collect } from "../../src/collect/collect.js";
import { makeTempOut } from "../helpers/collect-fixtures.js";
import { HOSTILE_ERROR, makeReportStudy, type ReportStudy } from "./report-study.js";

const CHROMIUM = process.env.CST_BATCH_CHROMIUM ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing and CI is set: install it (apt-get install -y chromium) to run the browser tests`);
}
if (!haveChromium) {
  console.warn(`[skip] browser report tests: ${CHROMIUM} not found (apt-get install -y chromium; set CI to make this a failure)`);
}

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe.skipIf(!haveChromium)("batch_report.html in headless Chromium", () => {
  let tmp: { out: string; cleanup: () => void };
  let study: ReportStudy;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const dialogs: string[] = [];
  const networkRequests: string[] = [];

  beforeAll(async () => {
    tmp = makeTempOut("cst-report-browser-");
    study = makeReportStudy(tmp.out);
    await collect(tmp.out);
    profile = mkdtempSync(path.join(os.tmpdir(), "cst-chromium-profile-"));
    const { chromium } = await import("playwright-core");
    // A fresh --user-data-dir: Playwright takes it as launchPersistentContext's first argument.
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1300, height: 900 } });
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      networkRequests.push(url);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(pathToFileURL(path.join(tmp.out, "batch_report.html")).href);
    await page.waitForFunction(() => (window as unknown as { __cstReport?: { ready: boolean } }).__cstReport?.ready === true, undefined, { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    tmp?.cleanup();
  });

  const rowKeys = (): Promise<string[]> => page.$$eval("#subjects-body tr", (trs) => trs.map((tr) => tr.getAttribute("data-key") ?? ""));

  it("lists every subject, with a failed subject's category and a working log link", async () => {
    expect(await rowKeys()).toHaveLength(study.total);
    const failed = study.failed[1]!;
    const row = page.locator(`#subjects-body tr[data-key="${failed.key}"]`);
    await expect.poll(() => row.locator("td.status").textContent()).toBe("failed");
    expect(await row.locator("td.category").textContent()).toBe(failed.category);
    const href = await row.locator("a", { hasText: /^log$/ }).evaluate((a) => (a as HTMLAnchorElement).href);
    const file = fileURLToPath(href);
    expect(file).toBe(path.join(tmp.out, "logs", `${failed.key}.log`));
    expect(readFileSync(file, "utf8")).toContain("bvals and bvecs differ");
    // Following the link in the browser opens the log.
    const logPage = await context.newPage();
    await logPage.goto(href);
    expect(await logPage.textContent("body")).toContain("bvals and bvecs differ");
    await logPage.close();
    // The error log and csttool's own report are linked too.
    expect(await row.locator("a", { hasText: "error log" }).count()).toBe(1);
    const ok = page.locator(`#subjects-body tr[data-key="${study.outlierKey}"] a`, { hasText: "csttool report" });
    const reportHref = await ok.evaluate((a) => (a as HTMLAnchorElement).href);
    expect(existsSync(fileURLToPath(reportHref))).toBe(true);
  });

  it("sorts by a column and filters by status, category and text", async () => {
    await page.click('#subjects th[data-col="duration_s"]');
    const asc = await page.$$eval("#subjects-body tr", (trs) => trs.map((tr) => tr.querySelectorAll("td")[3]!.textContent ?? ""));
    const nums = asc.filter((s) => s !== "").map(Number);
    expect(nums).toEqual([...nums].sort((a, b) => a - b));
    expect(await page.getAttribute('#subjects th[data-col="duration_s"]', "aria-sort")).toBe("ascending");
    await page.click('#subjects th[data-col="duration_s"]');
    const desc = (await page.$$eval("#subjects-body tr", (trs) => trs.map((tr) => tr.querySelectorAll("td")[3]!.textContent ?? ""))).filter((s) => s !== "").map(Number);
    expect(desc).toEqual([...desc].sort((a, b) => b - a));

    await page.selectOption("#filter-status", "failed");
    expect(await rowKeys()).toHaveLength(study.failed.length);
    await page.selectOption("#filter-category", "TIMEOUT");
    expect((await rowKeys()).sort()).toEqual(study.failed.filter((f) => f.category === "TIMEOUT").map((f) => f.key).sort());
    await page.selectOption("#filter-category", "");
    await page.selectOption("#filter-status", "");
    await page.fill("#filter-text", "bvecs");
    expect(await rowKeys()).toEqual(["sub-f02"]);
    await page.fill("#filter-text", "");
    expect(await rowKeys()).toHaveLength(study.total);
  });

  it("renders every chart with marks, names the outlier, and logs no errors", async () => {
    const charts = await page.evaluate(() => (window as unknown as { __cstReport: { charts: Record<string, string> } }).__cstReport.charts);
    expect(Object.keys(charts).sort()).toEqual(["fa", "laterality", "memory", "runtime", "status"]);
    for (const [id, state] of Object.entries(charts)) {
      expect(state, id).toBe("ok");
      const marks = await page.$$eval(`#chart-${id} svg .role-mark > *, #chart-${id} canvas`, (els) => els.length);
      expect(marks, `marks in chart ${id}`).toBeGreaterThan(0);
    }
    const faLabels = await page.$$eval("#chart-fa svg .mark-text text", (ts) => ts.map((t) => t.textContent));
    expect(faLabels).toContain(study.outlierKey);
    expect(await page.textContent("#outliers")).toContain(study.outlierKey);
    expect(consoleErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(networkRequests).toEqual([]);
  });

  it("shows a hostile error message as text and runs none of it", async () => {
    const title = await page.getAttribute(`#subjects-body tr[data-key="${study.hostileKey}"] td.error`, "title");
    expect(title).toContain(HOSTILE_ERROR);
    expect(dialogs).toEqual([]);
    expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0);
    // The page's only scripts are its own: 3 Vega runtimes, the page script, 2 JSON data blocks.
    expect(await page.$$eval("script", (s) => s.length)).toBe(6);
  });

  it("saves a screenshot", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cst-report-shot-"));
    const file = path.join(dir, "batch_report.png");
    await page.fill("#filter-text", "");
    await page.selectOption("#filter-status", "");
    await page.screenshot({ path: file, fullPage: true });
    expect(existsSync(file)).toBe(true);
    console.log(`batch report screenshot: ${file}`);
  });
});
