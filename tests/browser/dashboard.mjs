// Drives the operator dashboard in a real headless Chromium (Debian's package, through
// playwright-core), against a running payouts-local and a local EVM node. Run by
// functions/tests/dashboard_browser.rs, which starts both and passes them in the environment:
// DASHBOARD_URL, API_URL, SANDBOX_KEY, RPC_URL, USDC, PAYER, RECIPIENT, OTHER_PAYOUT_ID,
// SCREENSHOTS (a folder), CHROMIUM (the browser executable).
//
// Exits non-zero, with the reason, on the first check that fails. Waits use locators, never
// `waitForFunction`: the page's CSP forbids evaluating strings, and it stays on for the test.

import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const DASHBOARD_URL = env("DASHBOARD_URL");
const API_URL = env("API_URL");
const KEY = env("SANDBOX_KEY");
const RPC_URL = env("RPC_URL");
const SCREENSHOTS = env("SCREENSHOTS");
mkdirSync(SCREENSHOTS, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const WIDTHS = { laptop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };
const step = (text) => console.log(`- ${text}`);

async function rpc(method, params) {
  const response = await fetch(RPC_URL, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function apiGet(path) {
  const response = await fetch(`${API_URL}${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
  return { status: response.status, json: await response.json() };
}

const word = (hex) => hex.replace(/^0x/, "").toLowerCase().padStart(64, "0");

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: WIDTHS.laptop, acceptDownloads: true });
  const page = await context.newPage();
  const dialogs = [];
  const requested = [];
  const consoleErrors = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on("request", (request) => requested.push(request.url()));
  const refused = [];
  page.on("response", async (answer) => {
    if (answer.status() >= 400 && answer.url().includes("/v1/")) refused.push(`${answer.request().method()} ${answer.url()} ${answer.status()} ${await answer.text().catch(() => "")}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  // Any script that runs because of page content would call one of these.
  await page.addInitScript(() => {
    window.__alerts = [];
    for (const name of ["alert", "confirm", "prompt"]) {
      const original = window[name];
      window[name] = (...args) => {
        window.__alerts.push([name, ...args]);
        return name === "confirm" ? true : original ? undefined : undefined;
      };
    }
  });

  const axe = async (name) => {
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    const serious = result.violations.filter((violation) => ["serious", "critical"].includes(violation.impact));
    assert.equal(serious.length, 0, `${name}: accessibility violations: ${JSON.stringify(serious.map((v) => [v.id, v.help, v.nodes.map((n) => n.target)]), null, 1)}`);
  };
  const shoot = async (name) => {
    for (const [width, size] of Object.entries(WIDTHS)) {
      await page.setViewportSize(size);
      await page.screenshot({ path: `${SCREENSHOTS}/${name}-${width}.png`, fullPage: true });
    }
    await page.setViewportSize(WIDTHS.laptop);
  };
  const heading = () => page.locator("h1").innerText();

  step("the page is served with its security headers, from the API's origin");
  const response = await page.goto(DASHBOARD_URL);
  const headers = response.headers();
  assert.match(headers["content-security-policy"] || "", /default-src 'self'/);
  assert.match(headers["content-security-policy"] || "", /frame-ancestors 'none'/);
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.equal(headers["referrer-policy"], "no-referrer");
  assert.equal(await heading(), "Sign in");
  await axe("sign-in");
  await shoot("sign-in");

  step("sign in with the sandbox key: organization, environment and the sandbox banner show");
  await page.getByLabel("API key").fill(KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("nav").waitFor();
  await page.locator("h1", { hasText: /^Payouts$/ }).waitFor();
  assert.match(await page.locator("#account-env").innerText(), /^sandbox$/i);
  assert.match(await page.locator("#account-org").innerText(), /org_[0-9a-f]{24}/);
  assert.ok(await page.locator("#sandbox-banner").isVisible(), "the sandbox banner is visible");

  step("create a payout: the API's error for a bad address shows next to the address field");
  await page.getByRole("link", { name: "New payout" }).click();
  await page.locator("#create-payout").waitFor();
  await page.getByLabel("Recipient address").fill("0x1234notanaddress");
  await page.getByLabel("Chain").selectOption("base");
  await page.getByLabel("Token").selectOption("USDC");
  await page.getByLabel("Amount").fill("25.00");
  await page.getByLabel("Description").fill("<img src=x onerror=alert(1)>");
  await page.getByRole("button", { name: "Create payout intent" }).click();
  const fieldError = page.locator("#error-create-payout-recipient_address");
  await fieldError.waitFor();
  const direct = await fetch(`${API_URL}/payouts`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: '{"recipient_address":"0x1234notanaddress","chain":"base","token":"USDC","amount":25.00,"currency":"USD"}',
  }).then((r) => r.json());
  assert.equal(await fieldError.innerText(), direct.error.message, "the page shows the API's own message");
  assert.equal(await page.getByLabel("Recipient address").getAttribute("aria-invalid"), "true");
  await axe("new payout (with an error)");
  await shoot("new-payout");

  await page.getByLabel("Recipient address").fill(env("RECIPIENT"));
  await page.getByRole("button", { name: "Create payout intent" }).click();
  await page.waitForURL(/#\/payouts\/po_[0-9a-f]{24}$/);
  const payoutId = page.url().split("/").pop();
  await page.locator("#payout-status").waitFor();
  assert.match(await page.locator("#payout-status").innerText(), /draft/);

  step("a description holding HTML is shown as text and runs nothing");
  assert.equal(await page.locator("dd", { hasText: "<img src=x onerror=alert(1)>" }).count(), 1);
  assert.equal(await page.locator('img[src="x"]').count(), 0);

  step("approve it");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.locator("#payout-status", { hasText: "approved" }).waitFor();

  step("send the transfer on the devnet and submit its hash");
  const data = `0xa9059cbb${word(env("RECIPIENT"))}${(25_000_000).toString(16).padStart(64, "0")}`;
  const txHash = await rpc("eth_sendTransaction", [{ from: env("PAYER"), to: env("USDC"), data }]);
  await page.getByLabel("Transaction hash").fill(txHash);
  await page.getByRole("button", { name: "Submit tx hash" }).click();

  step("the page goes to settled by itself (confirmation progress on the way)");
  let sawProgress = false;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const text = await page.locator("#payout-status").innerText().catch(() => "");
    if (text.includes("settled")) break;
    if (await page.locator("#confirmations").count()) sawProgress = true;
    assert.ok(Date.now() < deadline, `the payout did not settle in time (last: ${text})`);
    // A block every 2 s: the page (which refreshes every 1.5 s) sees each depth.
    await page.waitForTimeout(2000);
    await rpc("evm_mine", []);
  }
  assert.ok(sawProgress, "the confirmation progress was shown while verifying");
  await page.locator("#confirmations").waitFor({ state: "detached" });
  await axe("payout detail");
  await shoot("payout-detail");

  step("the list shows it with status tabs and counts");
  await page.getByRole("link", { name: "Payouts", exact: true }).click();
  await page.locator("table").waitFor();
  assert.match(await page.locator(".tabs").innerText(), /settled \(1\)/);
  await axe("payouts list");
  await shoot("payouts");

  step("bulk approve two drafts, cancel a third, mark one pending execution, filter by chain");
  const draft = async (amount) => {
    const response = await fetch(`${API_URL}/payouts`, {
      method: "POST",
      headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
      body: `{"recipient_address":"${env("RECIPIENT")}","chain":"base","token":"USDC","amount":${amount},"currency":"USD"}`,
    });
    assert.equal(response.status, 201);
    return (await response.json()).id;
  };
  const drafts = [await draft("1.00"), await draft("2.00")];
  const doomed = await draft("3.00");
  await page.goto(`${DASHBOARD_URL}#/payouts?status=draft`);
  await page.locator("h1", { hasText: /^Payouts$/ }).waitFor();
  for (const id of drafts) await page.getByLabel(`Select ${id}`).check();
  await page.getByRole("button", { name: "Approve selected drafts" }).click();
  await page.locator("#bulk-result", { hasText: "2 approved" }).waitFor();
  for (const id of drafts) assert.equal((await apiGet(`/payouts/${id}`)).json.status, "approved", id);
  assert.equal((await apiGet(`/payouts/${doomed}`)).json.status, "draft", "an unselected draft stays a draft");
  await page.goto(`${DASHBOARD_URL}#/payouts/${doomed}`);
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.locator("#payout-status", { hasText: "canceled" }).waitFor();
  await page.goto(`${DASHBOARD_URL}#/payouts/${drafts[0]}`);
  await page.getByRole("button", { name: "Mark pending execution" }).click();
  await page.locator("#payout-status", { hasText: "pending execution" }).waitFor();
  await page.goto(`${DASHBOARD_URL}#/payouts`);
  await page.locator("#payout-filters").waitFor();
  await page.locator("#payout-filters").getByLabel("Chain").selectOption("tron");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("td", { hasText: "No payout intents here." }).waitFor();
  await page.locator("#payout-filters").getByLabel("Chain").selectOption("base");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("tbody tr").nth(3).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 4, "the four base payouts");

  step("reconciliation shows the API's numbers");
  await page.getByRole("link", { name: "Reconciliation" }).click();
  // The job stores a new report every second here: read the page and the API from the same
  // report (the page is reloaded while the job moved on between the two reads).
  let summary;
  for (let attempt = 0; ; attempt++) {
    await page.locator("#card-matched").waitFor();
    const before = (await apiGet("/payouts/reconciliation")).json;
    const shown = await page.locator("#reconciliation-computed time").getAttribute("datetime");
    summary = (await apiGet("/payouts/reconciliation")).json;
    if (shown === before.computed_at && before.computed_at === summary.computed_at) break;
    assert.ok(attempt < 20, `the page kept showing another report than the API's (${shown} vs ${summary.computed_at})`);
    await page.reload();
  }
  const shownCount = await page.locator("#card-matched .count").innerText();
  const shownTotal = await page.locator("#card-matched .total").innerText();
  assert.equal(shownCount, String(summary.matched.count));
  assert.equal(Number(shownTotal), summary.matched.total_amount);
  assert.match(shownTotal, /^\d+\.\d{2}$/, "an exact decimal, as the API wrote it");
  assert.equal(await page.locator("#card-unmatched .count").innerText(), String(summary.unmatched_payouts.count));
  assert.equal(await page.locator("#card-unexpected .count").innerText(), String(summary.unexpected_settlements.count));
  await axe("reconciliation");
  await shoot("reconciliation");

  step("download the settlements CSV and parse it");
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#download-settlements").click()]);
  const csv = readFileSync(await download.path(), "utf8");
  const [header, ...rows] = csv.split("\r\n").filter(Boolean);
  assert.equal(header.split(",")[0], "id");
  assert.ok(header.split(",").includes("tx_hash"));
  const txColumn = header.split(",").indexOf("tx_hash");
  assert.ok(rows.some((row) => row.split(",")[txColumn] === txHash.toLowerCase()), `the CSV lists ${txHash}: ${csv}`);

  step("webhooks and source wallets pages");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.locator("#create-webhook").waitFor();
  await page.getByLabel("Endpoint URL").fill("http://127.0.0.1:9/hooks");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  await page.locator("#secret .secret").waitFor();
  assert.match(await page.locator("#secret .secret").innerText(), /^whsec_/);
  await axe("webhooks");
  await shoot("webhooks");
  await page.getByRole("link", { name: "Source wallets" }).click();
  await page.locator("#register-wallet").waitFor();
  await page.getByLabel("Address").fill(env("RECIPIENT"));
  await page.getByRole("button", { name: "Register wallet" }).click();
  await page
    .locator("pre.challenge, #register-wallet .field-error, #register-wallet .form-error")
    .first()
    .waitFor({ timeout: 10000 })
    .catch(async () => assert.fail(`no challenge shown: ${await page.locator("main").innerText()} / console: ${consoleErrors.join(" | ")} / refused: ${refused.join(" | ")} / html: ${await page.locator("main").innerHTML()}`));
  assert.equal(await page.locator("pre.challenge").count(), 1, await page.locator("main").innerText());
  assert.match(await page.locator("pre.challenge").innerText(), /prove ownership/);
  await axe("source wallets");
  await shoot("wallets");

  step("another organization's payout is not found");
  await page.goto(`${DASHBOARD_URL}#/payouts/${env("OTHER_PAYOUT_ID")}`);
  await page.locator("h1", { hasText: /^Not found$/ }).waitFor();

  step("the key is in no URL, no localStorage and no cookie; no script ran");
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.equal(await page.evaluate(() => document.cookie), "");
  assert.equal(await page.evaluate((key) => sessionStorage.getItem("payouts.api_key") === key, KEY), true);
  assert.ok(requested.length > 10);
  assert.equal(requested.filter((url) => url.includes(KEY)).length, 0, "no request URL carries the key");
  assert.deepEqual(await page.evaluate(() => window.__alerts), []);
  assert.deepEqual(dialogs, []);
  assert.ok(payoutId.startsWith("po_"));

  step("sign out forgets the key");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.locator("h1", { hasText: /^Sign in$/ }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  // The refused create (400) and the foreign payout (404) are logged by the browser as failed loads.
  assert.deepEqual(consoleErrors.filter((text) => !text.startsWith("Failed to load resource")), [], "no console errors");
  console.log(`dashboard: every check passed; screenshots in ${SCREENSHOTS}`);
} catch (error) {
  failed = true;
  console.error(error.stack || String(error));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
