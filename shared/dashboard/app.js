// The operator dashboard: plain DOM, no framework, no inline script (the page's CSP forbids it).
// It signs in with an API key kept in sessionStorage only and talks to the public API on the
// same origin. Every text from the API goes into the page as text, never as HTML.

const KEY = "payouts.api_key";
const STATUSES = ["draft", "approved", "pending_execution", "executed", "verifying", "settled", "failed", "canceled"];
const SYMBOLS = { settled: "✓", verified: "✓", succeeded: "✓", matched: "✓", failed: "✗", canceled: "✗", discrepancy: "≠", disabled: "✗" };
const CHAINS = ["tron", "arbitrum", "base"];
const TOKENS = ["USDT", "USDC"];
const AMOUNT_KEYS = new Set(["amount", "total_amount", "expected_amount", "actual_amount", "difference"]);
const main = document.getElementById("main");
let account = null;
let refreshTimer = null;

// ---------------------------------------------------------------------------------------------
// DOM and API helpers.

function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `The API answered HTTP ${status}.`);
    this.status = status;
    this.param = body?.error?.param || null;
    this.code = body?.error?.code || null;
  }
}

// Amounts are exact decimals on the wire (`500.00`): kept as their text, never as floats.
function parseJson(text) {
  return JSON.parse(text, (key, value, context) => (typeof value === "number" && AMOUNT_KEYS.has(key) && context && context.source ? context.source : value));
}

async function api(method, path, body, headers = {}) {
  const key = sessionStorage.getItem(KEY);
  const all = { Authorization: `Bearer ${key}`, ...headers };
  if (body !== undefined) all["Content-Type"] = "application/json";
  const response = await fetch(`/v1${path}`, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try {
    json = text ? parseJson(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

async function download(path, fileName) {
  const response = await fetch(`/v1${path}`, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}`, Accept: "text/csv" }, cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: fileName, class: "visually-hidden" }, "download");
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function status(value) {
  return h("span", { class: `status status-${value}`, "data-symbol": SYMBOLS[value] || "•" }, value.replaceAll("_", " "));
}

function time(value) {
  return value ? h("time", { datetime: value }, value.replace("T", " ").replace("Z", " UTC")) : "—";
}

function money(amount, token) {
  return amount === null || amount === undefined ? "—" : `${amount}${token ? ` ${token}` : ""}`;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

function dayStart(date) {
  return date ? `${date}T00:00:00Z` : "";
}

/// Shows an API error next to the field it names (`param`), or at the top of the form.
function showError(form, error) {
  clearErrors(form);
  const message = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
  const field = error.param ? form.querySelector(`[name="${CSS.escape(error.param)}"]`) : null;
  const note = h("p", { class: field ? "field-error" : "form-error", role: "alert", id: `error-${form.id}-${error.param || "form"}` }, message);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", note.id);
    field.closest("label").after(note);
    field.focus();
  } else {
    form.prepend(note);
  }
}

function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((note) => note.remove());
  form.querySelectorAll("[aria-invalid]").forEach((field) => {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  });
}

function select(name, label, options, value, extra = {}) {
  return h("label", {}, label, h("select", { name, ...extra }, options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text))));
}

function input(name, label, attrs = {}) {
  return h("label", {}, label, h("input", { name, ...attrs }));
}

function render(title, ...content) {
  const nodes = content.flat(Infinity).filter((part) => part !== null && part !== undefined && part !== false);
  main.replaceChildren(h("h1", {}, title), ...nodes.map((part) => (part instanceof Node ? part : document.createTextNode(String(part)))));
  document.title = `${title} · Payouts dashboard`;
}

function failure(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut("Your key was refused; sign in again.");
    return;
  }
  const title = error instanceof ApiError && error.status === 404 ? "Not found" : "Something went wrong";
  render(title, h("p", { role: "alert" }, error.message));
}

// ---------------------------------------------------------------------------------------------
// Sign-in.

function signInPage(message) {
  const form = h(
    "form",
    { class: "card", id: "sign-in" },
    h("p", {}, "Sign in with an API key (sk_live_… or sk_test_…). It is kept in this tab only and forgotten when you sign out or close the tab."),
    input("api_key", "API key", { type: "password", autocomplete: "off", required: true, spellcheck: "false" }),
    h("p", {}, h("button", { type: "submit" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = form.elements.api_key.value.trim();
    sessionStorage.setItem(KEY, key);
    try {
      await loadAccount();
      if (!location.hash || location.hash === "#/sign-in") location.hash = "#/payouts";
      else route();
    } catch (error) {
      sessionStorage.removeItem(KEY);
      showError(form, error instanceof ApiError && error.status === 401 ? new ApiError(401, { error: { message: "That key was not accepted.", param: "api_key" } }) : error);
    }
  });
  render("Sign in", message ? h("p", { role: "status" }, message) : null, form);
  form.elements.api_key.focus();
}

async function loadAccount() {
  account = await api("GET", "/account");
  document.getElementById("account-org").textContent = `${account.org_name} (${account.org_id}) · plan ${account.plan}`;
  const env = document.getElementById("account-env");
  env.textContent = account.environment === "sandbox" ? "Sandbox" : "Live";
  document.getElementById("sandbox-banner").hidden = account.environment !== "sandbox";
  document.getElementById("account").hidden = false;
  document.getElementById("nav").hidden = false;
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  account = null;
  document.getElementById("account").hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("sandbox-banner").hidden = true;
  history.replaceState(null, "", "#/sign-in");
  signInPage(message);
}

// ---------------------------------------------------------------------------------------------
// Payouts.

async function payoutList(params) {
  const filters = { status: params.get("status") || "", chain: params.get("chain") || "", token: params.get("token") || "", due_date_after: params.get("due_date_after") || "", due_date_before: params.get("due_date_before") || "" };
  const cursor = params.get("cursor") || "";
  const narrowing = { chain: filters.chain, token: filters.token, due_date_after: dayStart(filters.due_date_after), due_date_before: dayStart(filters.due_date_before) };
  const [page, ...counts] = await Promise.all([
    api("GET", `/payouts${query({ ...narrowing, status: filters.status, cursor, limit: 25 })}`),
    ...STATUSES.map((value) => api("GET", `/payouts${query({ ...narrowing, status: value, limit: 100 })}`)),
  ]);
  const tab = (value, label, count) => {
    const link = h("a", { href: `#/payouts${query({ ...filters, status: value })}`, "aria-current": filters.status === value ? "page" : null }, label, count === null ? "" : ` (${count})`);
    return h("li", {}, link);
  };
  const tabs = h("ul", { class: "tabs", "aria-label": "Status" }, tab("", "All", null), STATUSES.map((value, i) => tab(value, value.replaceAll("_", " "), `${counts[i].data.length}${counts[i].has_more ? "+" : ""}`)));
  const filterForm = h(
    "form",
    { class: "card row", id: "payout-filters" },
    select("chain", "Chain", [["", "any"], ...CHAINS.map((c) => [c, c])], filters.chain),
    select("token", "Token", [["", "any"], ...TOKENS.map((t) => [t, t])], filters.token),
    input("due_date_after", "Due after", { type: "date", value: filters.due_date_after }),
    input("due_date_before", "Due before", { type: "date", value: filters.due_date_before }),
    h("button", { type: "submit" }, "Filter"),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(filterForm);
    location.hash = `#/payouts${query({ status: filters.status, chain: data.get("chain"), token: data.get("token"), due_date_after: data.get("due_date_after"), due_date_before: data.get("due_date_before") })}`;
  });
  const rows = page.data.map((payout) =>
    h(
      "tr",
      {},
      h("td", {}, payout.status === "draft" ? h("input", { type: "checkbox", name: "selected", value: payout.id, "aria-label": `Select ${payout.id}` }) : ""),
      h("td", {}, h("a", { href: `#/payouts/${payout.id}` }, payout.id)),
      h("td", {}, status(payout.status)),
      h("td", {}, money(payout.amount, payout.token)),
      h("td", {}, payout.chain),
      h("td", { class: "hide-narrow" }, payout.recipient_address),
      h("td", { class: "hide-narrow" }, payout.description || ""),
      h("td", {}, time(payout.created_at)),
    ),
  );
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, "Payout intents, newest first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Select")), ["ID", "Status", "Amount", "Chain"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col", class: "hide-narrow" }, "Recipient"), h("th", { scope: "col", class: "hide-narrow" }, "Description"), h("th", { scope: "col" }, "Created"))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8 }, "No payout intents here."))),
    ),
  );
  const bulk = h("form", { class: "row", id: "bulk" }, h("button", { type: "submit" }, "Approve selected drafts"), h("span", { id: "bulk-result", role: "status" }));
  bulk.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ids = [...main.querySelectorAll('input[name="selected"]:checked')].map((box) => box.value);
    const results = await Promise.all(ids.map((id) => api("PATCH", `/payouts/${id}`, { status: "approved" }).then(() => null, (error) => `${id}: ${error.message}`)));
    const failed = results.filter(Boolean);
    if (failed.length) showError(bulk, new Error(failed.join(" ")));
    // The list is re-rendered first (with the new statuses), then the count goes into the new
    // page's status line: set before, it was lost whenever the re-render finished later.
    else await route();
    document.getElementById("bulk-result").textContent = `${ids.length - failed.length} approved`;
  });
  const pager = h(
    "p",
    { class: "row" },
    cursor ? h("a", { href: `#/payouts${query(filters)}` }, "First page") : null,
    page.has_more ? h("a", { href: `#/payouts${query({ ...filters, cursor: page.next_cursor })}`, rel: "next" }, "Next page") : null,
  );
  render("Payouts", tabs, filterForm, bulk, table, pager);
}

function field(name, value) {
  return [h("dt", {}, name), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
}

async function payoutDetail(_params, id) {
  const payout = await api("GET", `/payouts/${encodeURIComponent(id)}`);
  const [settlements, events] = await Promise.all([api("GET", `/payouts/settlements${query({ payout_intent_id: id })}`), api("GET", `/events${query({ payout_intent_id: id, limit: 100 })}`)]);
  const explorer = account?.explorers?.[payout.chain];
  const fields = h(
    "dl",
    { class: "fields" },
    field("ID", payout.id),
    field("Status", status(payout.status)),
    field("Amount", money(payout.amount, payout.token)),
    field("Amount (atomic)", payout.amount_atomic),
    field("Currency", payout.currency),
    field("Chain", payout.chain),
    field("Token", payout.token),
    field("Recipient", payout.recipient_address),
    field("Description", payout.description),
    field("Reference", payout.reference_type ? `${payout.reference_type} ${payout.reference_id || ""}` : null),
    field("Due date", time(payout.due_date)),
    field("Approved", payout.approved_at ? [time(payout.approved_at), ` by key ${payout.approved_by}`] : null),
    field("Executed", time(payout.executed_at)),
    field("Tx hash", payout.expected_tx_hash),
    field("Verified", time(payout.verified_at)),
    field("Failed", payout.failed_at ? [time(payout.failed_at), ` (${payout.failure_reason})`] : null),
    field("Canceled", time(payout.canceled_at)),
    field("Environment", payout.environment),
    field("Created", time(payout.created_at)),
    field("Updated", time(payout.updated_at)),
  );
  const progress = payout.verification
    ? h(
        "p",
        { id: "confirmations" },
        h("label", {}, `Confirmations: ${payout.verification.confirmations} of ${payout.verification.required_confirmations}`, h("progress", { max: payout.verification.required_confirmations, value: Math.min(payout.verification.confirmations, payout.verification.required_confirmations) })),
      )
    : null;
  const actions = h("div", { class: "row", id: "actions" });
  const act = (label, body, kind) => {
    const form = h("form", { id: `action-${body.status}` }, h("button", { type: "submit", class: kind || "" }, label));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", `/payouts/${id}`, body);
        route();
      } catch (error) {
        showError(form, error);
      }
    });
    actions.append(form);
  };
  if (payout.status === "draft") {
    act("Approve", { status: "approved" });
    act("Cancel", { status: "canceled" }, "danger");
  }
  if (payout.status === "approved") act("Mark pending execution", { status: "pending_execution" }, "secondary");
  let execute = null;
  if (["approved", "pending_execution", "executed"].includes(payout.status)) {
    execute = h("form", { class: "card row", id: "execute" }, input("tx_hash", "Transaction hash", { required: true, autocomplete: "off", spellcheck: "false", size: 70 }), h("button", { type: "submit" }, payout.status === "executed" ? "Replace tx hash" : "Submit tx hash"));
    execute.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", `/payouts/${id}/execute`, { tx_hash: execute.elements.tx_hash.value.trim() }, { "Idempotency-Key": crypto.randomUUID() });
        route();
      } catch (error) {
        showError(execute, error);
      }
    });
  }
  const mine = events.data.slice().reverse();
  const timeline = h("ol", { class: "timeline" }, mine.length ? mine.map((event) => h("li", {}, h("strong", {}, event.type), " · ", time(event.created_at), " · ", event.event_id)) : h("li", {}, "No events yet."));
  const settlementRows = settlements.data.map((settlement) =>
    h(
      "tr",
      {},
      h("td", {}, settlement.id),
      h("td", {}, explorer ? h("a", { href: `${explorer}${settlement.tx_hash}`, rel: "noreferrer noopener", target: "_blank" }, settlement.tx_hash) : settlement.tx_hash),
      h("td", {}, money(settlement.amount, settlement.token)),
      h("td", {}, settlement.from_address || "—"),
      h("td", {}, `${settlement.block_number ?? "—"}`),
      h("td", {}, `${settlement.confirmations}`),
      h("td", {}, time(settlement.confirmed_at)),
    ),
  );
  const settlementTable = h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, ["Settlement", "Tx hash", "Amount", "From", "Block", "Confirmations", "Confirmed"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, settlementRows.length ? settlementRows : h("tr", {}, h("td", { colspan: 7 }, "No settlement recorded.")))),
  );
  render(`Payout ${payout.id}`, h("p", { id: "payout-status" }, "Status: ", status(payout.status)), progress, actions, execute, h("h2", {}, "Fields"), fields, h("h2", {}, "Settlements"), settlementTable, h("h2", {}, "Timeline"), timeline);
  if (["executed", "verifying"].includes(payout.status)) {
    // Watches the chain-watcher's progress by itself.
    refreshTimer = setTimeout(() => {
      if (location.hash === `#/payouts/${id}`) route();
    }, 1500);
  }
}

function newPayout() {
  const form = h(
    "form",
    { class: "card", id: "create-payout" },
    h(
      "div",
      { class: "row" },
      input("recipient_address", "Recipient address", { required: true, autocomplete: "off", spellcheck: "false", size: 46 }),
      select("chain", "Chain", CHAINS.map((c) => [c, c]), "tron"),
      select("token", "Token", TOKENS.map((t) => [t, t]), "USDT"),
      input("amount", "Amount", { required: true, inputmode: "decimal", placeholder: "500.00" }),
    ),
    h("div", { class: "row" }, input("description", "Description", { size: 40 }), select("reference_type", "Reference type", [["", "none"], ["invoice", "invoice"], ["checkout", "checkout"], ["subscription", "subscription"], ["manual", "manual"]], ""), input("reference_id", "Reference id"), input("due_date", "Due date", { type: "date" })),
    h("p", {}, h("button", { type: "submit" }, "Create payout intent")),
  );
  const idempotencyKey = crypto.randomUUID();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const amount = String(data.get("amount")).trim();
    const body = { recipient_address: String(data.get("recipient_address")).trim(), chain: data.get("chain"), token: data.get("token"), currency: "USD" };
    if (data.get("description")) body.description = data.get("description");
    if (data.get("reference_type")) body.reference_type = data.get("reference_type");
    if (data.get("reference_id")) body.reference_id = data.get("reference_id");
    if (data.get("due_date")) body.due_date = dayStart(data.get("due_date"));
    // The amount goes as a JSON number exactly as typed (the API refuses anything else).
    const json = JSON.stringify(body).replace(/}$/, `,"amount":${/^[0-9]+(\.[0-9]+)?$/.test(amount) ? amount : JSON.stringify(amount)}}`);
    try {
      const response = await fetch("/v1/payouts", { method: "POST", headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}`, "Content-Type": "application/json", "Idempotency-Key": idempotencyKey }, body: json });
      const created = parseJson(await response.text());
      if (!response.ok) throw new ApiError(response.status, created);
      location.hash = `#/payouts/${created.id}`;
    } catch (error) {
      showError(form, error);
    }
  });
  render("New payout", form);
}

// ---------------------------------------------------------------------------------------------
// Reconciliation.

async function reconciliation(params) {
  const category = params.get("category") || "discrepancy";
  const filters = { chain: params.get("chain") || "", from: params.get("from") || "", to: params.get("to") || "" };
  const apiFilters = { chain: filters.chain, from: dayStart(filters.from), to: dayStart(filters.to) };
  const [summary, items] = await Promise.all([api("GET", `/payouts/reconciliation${query(apiFilters)}`), api("GET", `/payouts/reconciliation/items${query({ ...apiFilters, category, limit: 100 })}`)]);
  const card = (name, label, count, total) => h("div", { class: "card", id: `card-${name}` }, h("h2", {}, label), h("p", { class: "big" }, h("span", { class: "count" }, `${count}`)), h("p", {}, "Total ", h("span", { class: "total" }, `${total}`)));
  const discrepancyTotal = summary.discrepancies.length ? summary.discrepancies.map((d) => d.difference).join(", ") : "—";
  const cards = h(
    "section",
    { class: "cards", "aria-label": "Summary" },
    card("matched", "Matched", summary.matched.count, summary.matched.total_amount),
    card("unmatched", "Unmatched payouts", summary.unmatched_payouts.count, summary.unmatched_payouts.total_amount),
    card("unexpected", "Unexpected settlements", summary.unexpected_settlements.count, summary.unexpected_settlements.total_amount),
    card("discrepancy", "Discrepancies", summary.discrepancies.length, discrepancyTotal),
  );
  const filterForm = h(
    "form",
    { class: "card row", id: "reconciliation-filters" },
    select("chain", "Chain", [["", "any"], ...CHAINS.map((c) => [c, c])], filters.chain),
    input("from", "From", { type: "date", value: filters.from }),
    input("to", "To (exclusive)", { type: "date", value: filters.to }),
    h("button", { type: "submit" }, "Apply"),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(filterForm);
    location.hash = `#/reconciliation${query({ category, chain: data.get("chain"), from: data.get("from"), to: data.get("to") })}`;
  });
  const tabs = h("ul", { class: "tabs", "aria-label": "Category" }, ["matched", "discrepancy", "unmatched", "unexpected"].map((value) => h("li", {}, h("a", { href: `#/reconciliation${query({ ...filters, category: value })}`, "aria-current": value === category ? "page" : null }, value))));
  const rows = items.data.map((item) =>
    h(
      "tr",
      {},
      h("td", {}, status(item.category)),
      h("td", {}, item.payout_intent ? h("a", { href: `#/payouts/${item.payout_intent.id}` }, item.payout_intent.id) : "—"),
      h("td", {}, item.settlement ? item.settlement.tx_hash : "—"),
      h("td", {}, money(item.expected_amount)),
      h("td", {}, money(item.actual_amount)),
      h("td", {}, money(item.difference)),
      h("td", {}, item.reasons.map((reason) => h("div", {}, `${reason.field}: ${reason.message}`))),
      h("td", {}, `${Math.round(item.age_seconds / 60)} min`),
      h("td", {}, item.overdue ? "overdue" : "no"),
      h("td", {}, item.suggested_payout_intent_id ? h("a", { href: `#/payouts/${item.suggested_payout_intent_id}` }, item.suggested_payout_intent_id) : "—"),
    ),
  );
  const table = h(
    "div",
    { class: "table-wrap" },
    h("table", { id: "items" }, h("thead", {}, h("tr", {}, ["Category", "Payout", "Tx hash", "Expected", "Actual", "Difference", "Reasons", "Age", "Overdue", "Suggested intent"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 10 }, "No items in this category.")))),
  );
  const downloads = h("form", { class: "row", id: "downloads" });
  const itemsButton = h("button", { type: "button", class: "secondary", id: "download-items" }, `Download ${category} items (CSV)`);
  const settlementsButton = h("button", { type: "button", class: "secondary", id: "download-settlements" }, "Download settlements (CSV)");
  itemsButton.addEventListener("click", () => download(`/payouts/reconciliation/items${query({ ...apiFilters, category, format: "csv" })}`, `reconciliation-${category}.csv`).catch((error) => showError(downloads, error)));
  settlementsButton.addEventListener("click", () => download("/payouts/settlements?format=csv", "settlements.csv").catch((error) => showError(downloads, error)));
  downloads.append(itemsButton, settlementsButton);
  render("Reconciliation", h("p", { id: "reconciliation-computed" }, "Computed ", time(summary.computed_at), summary.filters.chain || summary.filters.from || summary.filters.to ? " for the filters below" : " by the reconciliation job"), cards, filterForm, downloads, tabs, table);
}

// ---------------------------------------------------------------------------------------------
// Webhooks.

const EVENT_TYPES = ["payout.created", "payout.updated", "payout.approved", "payout.pending_execution", "payout.canceled", "payout.executed", "payout.verifying", "payout.settled", "payout.failed", "reconciliation.discrepancy", "settlement.unexpected"];

async function webhooks() {
  const endpoints = await api("GET", "/webhooks?limit=100");
  const form = h(
    "form",
    { class: "card", id: "create-webhook" },
    h("div", { class: "row" }, input("url", "Endpoint URL", { type: "url", required: true, size: 50, placeholder: "https://example.com/webhooks" }), input("description", "Description")),
    h("fieldset", {}, h("legend", {}, "Events"), h("div", { class: "row" }, EVENT_TYPES.map((type) => h("label", {}, h("input", { type: "checkbox", name: "events", value: type, checked: type === "payout.settled" || type === "payout.failed" }), type)))),
    h("p", {}, h("button", { type: "submit" }, "Create endpoint")),
  );
  const secretNote = h("div", { id: "secret", role: "status" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const created = await api("POST", "/webhooks", { url: data.get("url"), events: data.getAll("events"), description: data.get("description") || null }, { "Idempotency-Key": crypto.randomUUID() });
      await webhooks();
      document.getElementById("secret").replaceChildren(h("p", { class: "notice" }, "Signing secret (shown only now — store it):"), h("code", { class: "secret" }, created.secret));
    } catch (error) {
      showError(form, error);
    }
  });
  const list = await Promise.all(
    endpoints.data.map(async (endpoint) => {
      const deliveries = await api("GET", `/webhooks/${endpoint.webhook_id}/deliveries?limit=25`);
      const remove = h("button", { type: "button", class: "danger" }, "Delete endpoint");
      remove.addEventListener("click", async () => {
        if (!confirm(`Delete ${endpoint.url}?`)) return;
        await api("DELETE", `/webhooks/${endpoint.webhook_id}`);
        webhooks();
      });
      const rows = deliveries.data.map((delivery) => {
        const retry = h("button", { type: "button", class: "secondary" }, "Retry now");
        retry.addEventListener("click", async () => {
          await api("POST", `/webhooks/${endpoint.webhook_id}/deliveries/${delivery.delivery_id}/retry`);
          webhooks();
        });
        const attempts = (delivery.attempts || []).map((attempt) => h("div", {}, `${attempt.status_code ?? "no answer"} · ${attempt.latency_ms ?? "?"} ms${attempt.error ? ` · ${attempt.error}` : ""}`));
        return h("tr", {}, h("td", {}, delivery.event_type || delivery.event_id), h("td", {}, status(delivery.status)), h("td", {}, attempts.length ? attempts : "—"), h("td", {}, retry));
      });
      return h(
        "section",
        { class: "card" },
        h("h2", {}, endpoint.url),
        h("p", {}, status(endpoint.status), " · ", endpoint.events.join(", "), " · ", endpoint.webhook_id),
        h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Event", "Delivery", "Attempts", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 4 }, "No deliveries yet."))))),
        h("p", {}, remove),
      );
    }),
  );
  render("Webhooks", secretNote, h("h2", {}, "New endpoint"), form, h("h2", {}, "Endpoints"), list.length ? list : h("p", {}, "No endpoints yet."));
}

// ---------------------------------------------------------------------------------------------
// Source wallets.

async function wallets() {
  const listed = await api("GET", "/payouts/wallets?limit=100");
  const form = h(
    "form",
    { class: "card", id: "register-wallet" },
    h("div", { class: "row" }, select("chain", "Chain", CHAINS.map((c) => [c, c]), "base"), input("address", "Address", { required: true, size: 46, spellcheck: "false" }), input("label", "Label")),
    account?.environment === "sandbox" ? h("label", {}, h("input", { type: "checkbox", name: "skip_proof" }), "Skip the proof (sandbox only)") : null,
    h("p", {}, h("button", { type: "submit" }, "Register wallet")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await api("POST", "/payouts/wallets", { chain: data.get("chain"), address: String(data.get("address")).trim(), label: data.get("label") || null, skip_proof: data.get("skip_proof") === "on" }, { "Idempotency-Key": crypto.randomUUID() });
      wallets();
    } catch (error) {
      showError(form, error);
    }
  });
  const cards = listed.data.map((wallet) => {
    const pending = wallet.status === "pending_verification";
    let verify = null;
    if (pending) {
      verify = h("form", { class: "row", id: `verify-${wallet.id}` }, input("signature", "Signature (0x…)", { required: true, size: 60, spellcheck: "false" }), h("button", { type: "submit" }, "Verify"));
      verify.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await api("POST", `/payouts/wallets/${wallet.id}/verify`, { signature: verify.elements.signature.value.trim() });
          wallets();
        } catch (error) {
          showError(verify, error);
        }
      });
    }
    return h(
      "section",
      { class: "card" },
      h("h2", {}, `${wallet.label || wallet.address}`),
      h("p", {}, status(wallet.status), " · ", wallet.chain, " · ", h("code", {}, wallet.address), wallet.proof_method ? ` · proof ${wallet.proof_method}` : ""),
      pending
        ? [
            h("p", {}, wallet.chain === "tron" ? "Sign this exact text with the wallet's key (TronWeb: Trx.signMessageV2(challenge, key), or TronLink's sign message), then paste the signature:" : "Sign this exact text with the wallet (personal_sign / “Sign message”; for a Safe, sign it as a Safe message), then paste the signature:"),
            h("pre", { class: "challenge" }, wallet.challenge),
            verify,
          ]
        : null,
    );
  });
  render("Source wallets", h("p", {}, "Only transfers sent by a verified wallet can settle live payouts, and reconciliation reports what they send."), form, cards.length ? cards : h("p", {}, "No wallets yet."));
}

// ---------------------------------------------------------------------------------------------
// The router.

const ROUTES = [
  [/^#\/payouts\/([A-Za-z0-9_]+)$/, payoutDetail],
  [/^#\/payouts$/, payoutList],
  [/^#\/new$/, newPayout],
  [/^#\/reconciliation$/, reconciliation],
  [/^#\/webhooks$/, webhooks],
  [/^#\/wallets$/, wallets],
];

async function route() {
  clearTimeout(refreshTimer);
  if (!sessionStorage.getItem(KEY)) return signInPage();
  if (!account) {
    try {
      await loadAccount();
    } catch (error) {
      return failure(error);
    }
  }
  const [path, search] = (location.hash || "#/payouts").split("?");
  const params = new URLSearchParams(search || "");
  document.querySelectorAll("nav a").forEach((link) => link.setAttribute("aria-current", path.startsWith(link.getAttribute("href")) ? "page" : "false"));
  for (const [pattern, view] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      try {
        await view(params, ...match.slice(1));
      } catch (error) {
        failure(error);
      }
      return;
    }
  }
  location.hash = "#/payouts";
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out: the key is forgotten."));
window.addEventListener("hashchange", route);
route();
