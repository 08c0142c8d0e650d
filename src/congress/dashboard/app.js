// The Congress dashboard (docs/dashboard.md, ADR 0011): plain ES modules, no framework.

const main = document.getElementById("main");

// -- the view helper -------------------------------------------------------------------------
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- the API ---------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("congress.token");
  if (token) headers["X-Auth-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, parsed);
  return parsed;
}

const enc = encodeURIComponent;

// -- the change feed: Server-Sent Events read with fetch (EventSource cannot send a token) --------
let streams = new AbortController(); // aborted when the page changes

export async function watch(path, onEvent, signal) {
  let lastId = null;
  while (!signal.aborted) {
    const headers = { Accept: "text/event-stream" };
    const token = sessionStorage.getItem("congress.token");
    if (token) headers["X-Auth-Token"] = token;
    if (lastId) headers["Last-Event-ID"] = lastId;
    try {
      const resp = await fetch(path, { headers, signal });
      if (!resp.ok) return;
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { kind: "message", data: "" };
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event.kind = line.slice(7);
            else if (line.startsWith("data: ")) event.data += line.slice(6);
            else if (line.startsWith("id: ")) lastId = line.slice(4);
          }
          if (event.data) onEvent(event.kind, JSON.parse(event.data));
        }
      }
    } catch (err) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // then resume
  }
}

function liveCount(policy, table, cell, level) {
  const rows = new Set();
  watch(`/v1/policies/${enc(policy)}/tables/${table}/watch`, (kind, data) => {
    if (kind === "snapshot") rows.clear();
    for (const row of data.rows || []) {
      const key = JSON.stringify(row);
      if (kind === "delete") rows.delete(key);
      else if (kind === "snapshot" || kind === "insert") rows.add(key);
    }
    cell.textContent = String(rows.size);
    cell.className = rows.size ? `num ${level}` : "num ok";
  }, streams.signal);
}

// -- pages -----------------------------------------------------------------------------------
async function violations(policy) {
  const tables = (await api("GET", `/v1/policies/${enc(policy)}/tables`)).results.map((t) => t.id);
  const counts = {};
  for (const table of ["error", "warning"]) {
    if (!tables.includes(table)) { counts[table] = 0; continue; }
    const rows = await api("GET", `/v1/policies/${enc(policy)}/tables/${table}/rows`);
    counts[table] = rows.results.length;
  }
  return counts;
}

async function overview() {
  const policies = (await api("GET", "/v1/policies")).results;
  const body = el("tbody");
  for (const p of policies) {
    const counts = await violations(p.name);
    const errors = el("td", { class: counts.error ? "num bad" : "num ok", "data-table": "error" },
      counts.error);
    const warnings = el("td", { class: counts.warning ? "num warn" : "num ok",
      "data-table": "warning" }, counts.warning);
    body.append(el("tr", { "data-policy": p.name },
      el("td", {}, el("a", { href: `#/policies/${enc(p.name)}` }, p.name)), errors, warnings));
    if (p.kind !== "action") { // live: the change feed of each table
      liveCount(p.name, "error", errors, "bad");
      liveCount(p.name, "warning", warnings, "warn");
    }
  }
  return [
    el("h2", {}, "Violations"),
    el("table", { "aria-label": "Violations per policy" },
      el("thead", {}, el("tr", {}, el("th", {}, "Policy"), el("th", {}, "Errors"),
        el("th", {}, "Warnings"))),
      body),
  ];
}

async function policiesPage() {
  const policies = (await api("GET", "/v1/policies")).results;
  const message = el("p", { role: "status" });
  const name = el("input", { name: "name", required: true, autocomplete: "off" });
  const kind = el("select", { name: "kind" },
    ["nonrecursive", "materialized", "database", "action"].map((k) => el("option", {}, k)));
  const form = el("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/v1/policies", { name: name.value, kind: kind.value });
      render();
    } catch (err) {
      message.replaceChildren(el("span", { class: "error" }, err.message));
    }
  } },
  el("label", {}, "Name", name), el("label", {}, "Kind", kind),
  el("button", { type: "submit" }, "Create policy"));
  const rows = policies.map((p) => el("tr", { "data-policy": p.name },
    el("td", {}, el("a", { href: `#/policies/${enc(p.name)}` }, p.name)),
    el("td", {}, p.kind), el("td", {}, p.description || ""),
    el("td", {}, el("button", { type: "button", onclick: async () => {
      if (!confirm(`Delete policy ${p.name}?`)) return;
      try {
        await api("DELETE", `/v1/policies/${enc(p.name)}`);
        render();
      } catch (err) {
        message.replaceChildren(el("span", { class: "error" }, err.message));
      }
    } }, "Delete"))));
  return [
    el("h2", {}, "Policies"), form, message,
    el("table", { "aria-label": "Policies" },
      el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Kind"),
        el("th", {}, "Description"), el("th", {}, ""))),
      el("tbody", {}, rows)),
  ];
}

// The place of an error in the text, marked: the line, with the column underlined.
function marked(text, line, column) {
  const lines = text.split("\n");
  const at = lines[line - 1] ?? "";
  const col = Math.max(1, Math.min(column, at.length + 1));
  return el("pre", { class: "marked", "aria-hidden": "true" },
    `${line} | ${at.slice(0, col - 1)}`, el("mark", {}, at.slice(col - 1, col) || " "),
    at.slice(col), `\n${" ".repeat(String(line).length)} | ${" ".repeat(col - 1)}^`);
}

function ruleEditor(policy) {
  const text = el("textarea", { name: "rule", rows: 4, cols: 80, spellcheck: "false",
    "aria-label": "Rule", "aria-describedby": "rule-check" });
  const check = el("div", { id: "rule-check", role: "status" });
  let timer = null;
  let serial = 0;
  const verify = async () => {
    const mine = ++serial;
    if (!text.value.trim()) { check.replaceChildren(); return; }
    try {
      const res = await api("POST", `/v1/policies/${enc(policy)}/rules?dry_run=true`,
        { rule: text.value });
      if (mine !== serial) return;
      const impact = Object.entries(res.impact || {}).map(([table, c]) =>
        `${table}: +${c.added.length} −${c.removed.length}`).join(", ");
      check.replaceChildren(el("span", { class: "ok" }, `OK${impact ? ` (${impact})` : ""}`));
      text.removeAttribute("aria-invalid");
    } catch (err) {
      if (mine !== serial) return;
      const data = (err.body && err.body.error && err.body.error.error_data) || {};
      text.setAttribute("aria-invalid", "true");
      const message = data.message || err.message;
      const where = data.line && !/\bline \d+, column \d+/.test(message)
        ? `line ${data.line}, column ${data.column}: ` : "";
      check.replaceChildren(
        el("span", { class: "error", "data-line": data.line, "data-column": data.column },
          where + message),
        data.line ? marked(text.value, data.line, data.column) : null);
    }
  };
  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(verify, 250); });
  const form = el("form", { class: "editor", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/v1/policies/${enc(policy)}/rules`, { rule: text.value });
      render();
    } catch (err) {
      await verify();
    }
  } }, text, check, el("button", { type: "submit" }, "Add rule"));
  return form;
}

async function policyPage(name) {
  const tables = (await api("GET", `/v1/policies/${enc(name)}/tables`)).results;
  const rules = (await api("GET", `/v1/policies/${enc(name)}/rules`)).results;
  return [
    el("h2", {}, `Policy ${name}`),
    el("h3", {}, "Rules"),
    el("ul", { class: "rules" }, rules.map((r) => el("li", {}, el("code", {}, r.rule)))),
    el("h3", {}, "New rule"),
    ruleEditor(name),
    el("h3", {}, "Tables"),
    el("ul", { class: "tables" }, tables.map((t) => el("li", {},
      el("a", { href: `#/policies/${enc(name)}/tables/${enc(t.id)}` }, t.id)))),
  ];
}

// A proof tree (docs/explanations.md) as nested lists.
function proofTree(node) {
  const label = node.kind === "rule" ? `${node.policy}:${node.literal}`
    : `${node.policy}:${node.literal} [${node.kind}]`;
  const item = el("li", { "data-kind": node.kind }, el("span", {}, label));
  if (node.kind === "rule" && node.rule) item.append(el("div", { class: "via" }, `by ${node.rule}`));
  if (node.children && node.children.length) item.append(el("ul", {}, node.children.map(proofTree)));
  return item;
}

function whyNot(body) {
  return el("ul", {}, body.rules.map((a) => el("li", {},
    el("div", {}, `${a.rule}`),
    a.failed ? el("div", { class: "bad" },
      `stopped at ${a.failed.literal} (${a.failed.reason})`) : null)));
}

async function tablePage(policy, table) {
  const PAGE = 100;
  let offset = 0;
  let filter = "";
  const status = el("p", { role: "status" });
  const body = el("tbody");
  const explanation = el("section", { "aria-label": "Explanation", class: "explanation" });
  const prev = el("button", { type: "button" }, "Previous");
  const next = el("button", { type: "button" }, "Next");
  const search = el("input", { type: "search", "aria-label": "Filter rows",
    placeholder: "filter", autocomplete: "off" });
  const load = async () => {
    const q = `limit=${PAGE}&offset=${offset}&filter=${enc(filter)}`;
    const page = await api("GET",
      `/v1/policies/${enc(policy)}/tables/${enc(table)}/rows?${q}`);
    body.replaceChildren(...page.results.map((r) => el("tr", {},
      r.data.map((v) => el("td", {}, String(v))),
      el("td", {}, el("button", { type: "button", class: "why", onclick: async () => {
        const answer = await api("POST", `/v1/policies/${enc(policy)}?action=explain`,
          { table, row: r.data });
        explanation.replaceChildren(el("h3", {}, `Why ${table}(${r.data.join(", ")})`),
          answer.holds ? el("ul", { class: "proof" }, proofTree(answer.explanation))
            : whyNot(answer.why_not));
        explanation.focus();
      } }, "Why?")))));
    const last = Math.min(offset + PAGE, page.total);
    status.textContent = page.total
      ? `Rows ${offset + 1}-${last} of ${page.total}` : "No rows";
    prev.disabled = offset === 0;
    next.disabled = last >= page.total;
  };
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  next.addEventListener("click", () => { offset += PAGE; load(); });
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { filter = search.value; offset = 0; load(); }, 250);
  });
  explanation.setAttribute("tabindex", "-1");
  await load();
  return [
    el("h2", {}, `Table ${table} of policy `, el("a", { href: `#/policies/${enc(policy)}` }, policy)),
    el("div", { class: "pager" }, search, prev, next, status),
    el("table", { "aria-label": `Rows of ${table}` }, body),
    explanation,
  ];
}

const STATUSES = ["", "executed", "failed", "would_execute", "deferred", "held", "cancelled",
  "expired", "blocked_by_breaker", "requested", "logged"];

function breakerRow(policy, b) {
  const state = el("td", { class: b.state === "open" ? "bad" : "ok" }, b.state);
  const reset = b.state === "open"
    ? el("button", { type: "button", onclick: async () => {
      await api("POST", `/v1/policies/${enc(policy)}/breaker?action=reset`);
      render();
    } }, `Reset ${policy}`)
    : null;
  return el("tr", { "data-breaker": policy }, el("td", {}, policy), state,
    el("td", {}, b.reason || ""), el("td", {}, b.tripped_at || ""), el("td", {}, reset));
}

async function actionsPage() {
  const policies = (await api("GET", "/v1/policies")).results.filter((p) => p.kind !== "action");
  const breakers = [];
  for (const p of policies) {
    breakers.push(breakerRow(p.name, await api("GET", `/v1/policies/${enc(p.name)}/breaker`)));
  }
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const status = el("select", { "aria-label": "Status", name: "status" },
    STATUSES.map((s) => el("option", { value: s, selected: s === (params.get("status") || "") },
      s || "any status")));
  const policy = el("input", { "aria-label": "Policy", name: "policy", placeholder: "policy",
    value: params.get("policy") || "", autocomplete: "off" });
  const query = new URLSearchParams({ limit: "100" });
  for (const name of ["status", "policy"]) if (params.get(name)) query.set(name, params.get(name));
  const log = (await api("GET", `/v1/executions?${query}`)).results;
  const filters = el("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (status.value) q.set("status", status.value);
    if (policy.value) q.set("policy", policy.value);
    location.hash = `#/actions?${q}`;
  } }, policy, status, el("button", { type: "submit" }, "Show"));
  const args = (e) => [...e.args.positional.map(String),
    ...Object.entries(e.args.named).map(([k, v]) => `${k}=${v}`)].join(", ");
  const answer = (e) => e.result !== null && e.result !== undefined
    ? JSON.stringify(e.result) : (e.detail || "");
  return [
    el("h2", {}, "Circuit breakers"),
    el("table", { "aria-label": "Circuit breakers" },
      el("thead", {}, el("tr", {}, el("th", {}, "Policy"), el("th", {}, "State"),
        el("th", {}, "Why"), el("th", {}, "Tripped at"), el("th", {}, ""))),
      el("tbody", {}, breakers)),
    el("h2", {}, "Executions"), filters,
    el("table", { "aria-label": "Executions" },
      el("thead", {}, el("tr", {}, ["Time", "Policy", "Action", "Arguments", "Status",
        "Result"].map((h) => el("th", {}, h)))),
      el("tbody", {}, log.map((e) => el("tr", { "data-status": e.status },
        el("td", {}, e.time), el("td", {}, e.policy || ""),
        el("td", {}, `${e.driver}:${e.action}`), el("td", {}, args(e)),
        el("td", { class: e.status === "failed" || e.status === "blocked_by_breaker" ? "bad" : "" },
          e.status),
        el("td", {}, answer(e)))))),
  ];
}

async function libraryPage() {
  const items = (await api("GET", "/v1/librarypolicies")).results;
  const active = new Set((await api("GET", "/v1/policies")).results.map((p) => p.name));
  const message = el("p", { role: "status" });
  const rows = items.map((lib) => el("tr", { "data-library": lib.name },
    el("td", {}, lib.name),
    el("td", {}, lib.description),
    el("td", {}, `${(lib.rules || []).length}`),
    el("td", {}, active.has(lib.name)
      ? el("a", { href: `#/policies/${enc(lib.name)}` }, "Active")
      : el("button", { type: "button", onclick: async () => {
        try {
          await api("POST", `/v1/policies?library_policy=${enc(lib.id)}`);
          location.hash = `#/policies/${enc(lib.name)}`;
        } catch (err) {
          message.replaceChildren(el("span", { class: "error" }, err.message));
        }
      } }, `Activate ${lib.name}`))));
  return [
    el("h2", {}, "Library"), message,
    el("table", { "aria-label": "Library policies" },
      el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Description"),
        el("th", {}, "Rules"), el("th", {}, ""))),
      el("tbody", {}, rows)),
  ];
}

// -- the router ------------------------------------------------------------------------------
const ROUTES = [
  [/^#?\/?$/, "overview", () => overview()],
  [/^#\/policies\/?$/, "policies", () => policiesPage()],
  [/^#\/library\/?$/, "library", () => libraryPage()],
  [/^#\/actions(\?.*)?$/, "actions", () => actionsPage()],
  [/^#\/policies\/([^/]+)$/, "policies", (m) => policyPage(decodeURIComponent(m[1]))],
  [/^#\/policies\/([^/]+)\/tables\/([^/]+)$/, "policies",
    (m) => tablePage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
];

let rendering = 0; // the latest render wins: a slower earlier page never replaces it

export async function render() {
  const mine = ++rendering;
  streams.abort();
  streams = new AbortController();
  const hash = location.hash || "#/";
  for (const [pattern, section, page] of ROUTES) {
    const m = hash.match(pattern);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.section === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    try {
      const content = await page(m);
      if (mine === rendering) main.replaceChildren(...content);
    } catch (err) {
      if (mine === rendering) {
        main.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      }
    }
    return;
  }
  main.replaceChildren(el("p", { class: "error", role: "alert" }, "No such page."));
}

window.addEventListener("hashchange", render);
render();
