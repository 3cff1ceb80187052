// Drives the relayer's status page in real headless Chromium (Debian's chromium through
// playwright-core) and checks what an operator would look at. Run by tests/tests/status_page.rs:
//
//   node status_page.cjs BASE_URL MESSAGE_ID SCREENSHOT.png
//
// Prints one JSON line of what it saw; exits 1 with the reason on the first failed check.
"use strict";
const { chromium } = require("playwright-core");

const [base, messageId, screenshot] = process.argv.slice(2);
if (!base || !messageId || !screenshot) {
  console.error("usage: node status_page.cjs BASE_URL MESSAGE_ID SCREENSHOT.png");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

// page.waitForFunction, failing with what it waited for.
async function until(page, what, fn, arg, timeout) {
  try {
    await page.waitForFunction(fn, arg, timeout ? { timeout } : undefined);
  } catch (e) {
    throw new Error(`timed out waiting until ${what}`);
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.XRELAY_CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const seen = { requests: [], console_errors: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on("request", (r) => seen.requests.push(r.url()));
    page.on("console", (m) => { if (m.type() === "error") seen.console_errors.push(m.text()); });
    page.on("pageerror", (e) => seen.console_errors.push(String(e)));
    page.on("response", (r) => { if (r.status() >= 400) seen.console_errors.push(`${r.status()} ${r.url()}`); });

    await page.goto(base + "/", { waitUntil: "load" });
    check((await page.title()) === "xrelay status", "page title");
    await until(page, "the page is live", () => document.getElementById("live").textContent === "live");

    // Lanes: both directions, with the messages the test relayed counted as acknowledged.
    const lanes = await page.$$eval("#lanes tbody tr[data-lane]", (rows) => rows.map((r) => ({
      lane: r.dataset.lane,
      cells: [...r.cells].map((c) => c.textContent.trim()),
    })));
    seen.lanes = lanes;
    const out = lanes.find((l) => l.lane === "chain-1>chain-2");
    check(out && lanes.some((l) => l.lane === "chain-2>chain-1"), "both lanes listed");
    check(Number(out.cells[3]) >= 3, "chain-1 → chain-2 shows its acknowledged messages");
    check(out.cells[6] === "0", "nothing waiting on chain-1 → chain-2");

    // Light clients: the relayer's own and the two hosted ones, all active, with heights.
    const clients = await page.$$eval("#clients tbody tr[data-client]", (rows) => rows.map((r) => ({
      client: r.dataset.client,
      height: Number(r.cells[3].textContent),
      trust_left: r.cells[5].textContent.trim(),
      state: r.cells[6].textContent.trim(),
    })));
    seen.clients = clients;
    for (const want of ["relayer/chain-1", "relayer/chain-2", "chain-2/chain-1", "chain-1/chain-2"]) {
      const c = clients.find((x) => x.client === want);
      check(c, `client ${want} listed`);
      check(c.height > 0 && c.state === "active", `client ${want} active at a height`);
    }

    // Chains and the mesh (two meshed relayers: this one sees the other live).
    const chains = await page.$$eval("#chains tbody tr[data-chain]", (rows) => rows.map((r) => r.dataset.chain));
    check(chains.includes("chain-1") && chains.includes("chain-2"), "chains listed");
    await until(page, "the mesh shows one live peer of one",
      () => /Live peers \(1 of 1\)/.test(document.getElementById("mesh").textContent));
    seen.mesh = (await page.textContent("#mesh-peers")).trim();

    // Live refresh: the snapshot time moves without a reload.
    const before = await page.textContent("#updated");
    await until(page, "the page refreshes by itself",
      (b) => document.getElementById("updated").textContent !== b, before, 8000);

    // Recent messages: a click shows that message's timeline.
    const recent = await page.$$eval("#recent tbody a[data-id]", (as) => as.map((a) => a.dataset.id));
    seen.recent = recent.length;
    check(recent.length > 0, "recent messages listed");
    await page.click("#recent tbody a[data-id]");
    await page.waitForSelector("#timeline");

    // Search by id: the full timeline of a settled message.
    await page.fill("#lookup-id", messageId);
    await page.click("#lookup button");
    await until(page, "the searched message's timeline is shown", (id) => document.getElementById("lookup-id").value === id
      && document.getElementById("timeline")
      && location.hash === "#message=" + id, messageId);
    await page.waitForSelector('#timeline[data-status="acknowledged"]');
    const steps = await page.$$eval("#timeline li[data-step]", (li) => li.map((x) => x.dataset.step));
    seen.timeline = steps;
    check(steps[0] === "pending" && steps.includes("delivered") && steps.at(-1) === "acknowledged",
      "timeline pending → delivered → acknowledged");

    // The screenshot an operator would see, with that timeline open.
    await page.screenshot({ path: screenshot, fullPage: true });

    check(seen.console_errors.length === 0, `no console errors (${seen.console_errors.join(" | ")})`);

    // A deep link opens the same timeline; an unknown id (a 404 from the API, which the
    // browser logs) and a malformed one say so.
    await page.goto(base + "/#message=" + messageId, { waitUntil: "load" });
    await page.waitForSelector('#timeline[data-status="acknowledged"]');
    await page.fill("#lookup-id", "0".repeat(64));
    await page.click("#lookup button");
    await page.waitForSelector("#lookup-error");
    seen.unknown = (await page.textContent("#lookup-error")).trim();
    check(/no message/.test(seen.unknown), "an unknown id is reported");
    await page.fill("#lookup-id", "not-an-id");
    await page.click("#lookup button");
    await until(page, "a malformed id is refused",
      () => /64 hex digits/.test(document.getElementById("lookup-result").textContent));

    // Offline: nothing but the relayer itself was asked for anything.
    const foreign = seen.requests.filter((u) => !u.startsWith(base + "/"));
    check(foreign.length === 0, `only the relayer is contacted (also: ${foreign.join(", ")})`);
    seen.requests = seen.requests.length;
    console.log(JSON.stringify(seen));
  } catch (e) {
    e.message += ` (console errors: ${seen.console_errors.join(" | ") || "none"})`;
    throw e;
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e.message || String(e));
  process.exit(1);
});
