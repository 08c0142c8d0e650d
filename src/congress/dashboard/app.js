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
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (err) {
    parsed = { error: { message: `HTTP ${resp.status}: ${text.slice(0, 200)}` } };
  }
  if (!resp.ok) {
    if (resp.status === 401) forgetToken();
    throw new ApiError(resp.status, parsed);
  }
  return parsed;
}

// -- signing in: a Keystone user and password, exchanged for a token by POST /dashboard/token ---
function forgetToken() {
  for (const key of ["congress.token", "congress.user", "congress.project"]) {
    sessionStorage.removeItem(key);
  }
  showWho();
}

let strategy = null; // the server's auth_strategy, asked once

async function authStrategy() {
  if (strategy === null) {
    try {
      const resp = await fetch("/dashboard/session", { headers: { Accept: "application/json" } });
      strategy = resp.ok ? (await resp.json()).auth_strategy : "noauth";
    } catch (err) {
      strategy = "noauth";
    }
  }
  return strategy;
}

function showWho() {
  const who = document.getElementById("who");
  if (!who) return;
  const user = sessionStorage.getItem("congress.user");
  if (!user) { who.replaceChildren(); return; }
  who.replaceChildren(
    el("span", {}, `${user} · ${sessionStorage.getItem("congress.project") || ""}`),
    el("button", { type: "button", onclick: () => { forgetToken(); render(); } }, "Sign out"));
}

function signInPage(reason) {
  const message = el("p", { role: "status" }, reason ? el("span", { class: "error" }, reason) : "");
  const field = (label, attrs) => el("label", {}, label, el("input", attrs));
  const form = el("form", { class: "signin", onsubmit: async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const resp = await fetch("/dashboard/token", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          username: data.username, password: data.password, project: data.project,
          user_domain: data.domain, project_domain: data.domain,
        }),
      });
      const answer = await resp.json().catch(() => null);
      if (!resp.ok) throw new ApiError(resp.status, answer);
      sessionStorage.setItem("congress.token", answer.token);
      sessionStorage.setItem("congress.user", answer.user.name);
      sessionStorage.setItem("congress.project", answer.project.name);
      showWho();
      render();
    } catch (err) {
      message.replaceChildren(el("span", { class: "error", role: "alert" }, err.message));
      button.disabled = false;
    }
  } },
  field("User", { name: "username", required: true, autocomplete: "username" }),
  field("Password", { name: "password", type: "password", required: true,
    autocomplete: "current-password" }),
  field("Project", { name: "project", required: true }),
  field("Domain", { name: "domain", value: "Default", required: true }),
  el("button", { type: "submit" }, "Sign in"));
  return [el("h2", {}, "Sign in"), el("p", {}, "Sign in with your Keystone user."), form, message];
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
      if (resp.status === 404) { // no such table (yet): a rule may make it
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
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

// A table's number of rows, kept live: the snapshot's rows, then each insert and delete (the
// feed sends net changes, so counting them is exact).
function liveCount(policy, table, onCount) {
  let count = 0;
  watch(`/v1/policies/${enc(policy)}/tables/${enc(table)}/watch`, (kind, data) => {
    const n = (data.rows || []).length;
    if (kind === "snapshot") count = n;
    else if (kind === "insert") count += n;
    else if (kind === "delete") count -= n;
    else return;
    onCount(count);
  }, streams.signal);
}

// -- pages -----------------------------------------------------------------------------------
const RANGES = { "1h": [3600, 60], "24h": [86400, 3600], "7d": [604800, 21600] };
const RANGE_NAMES = { "1h": "hour", "24h": "day", "7d": "week" };

// How many rows a watched table had over the range, from the history (null: none kept).
async function countsOver(policy, table, range) {
  const [span, step] = RANGES[range];
  const since = new Date(Date.now() - span * 1000).toISOString();
  try {
    const answer = await api("GET", `/v1/policies/${enc(policy)}/tables/${table}/history/counts`
      + `?since=${enc(since)}&step=${step}`);
    return answer.results.map((p) => p.count);
  } catch (err) {
    if (err.status === 404 || err.status === 503) return null; // not watched, or no history
    throw err;
  }
}

const SVG = "http://www.w3.org/2000/svg";

// A small line chart of counts (the last one is now), with its figures as text for everyone.
function sparkline(series, label) {
  const width = 160;
  const height = 30;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("role", "img");
  svg.classList.add("spark");
  const draw = () => {
    const top = Math.max(1, ...series);
    const x = (i) => (series.length > 1 ? (i * (width - 2)) / (series.length - 1) + 1 : width / 2);
    const y = (v) => height - 2 - (v * (height - 4)) / top;
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", series.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" "));
    const title = document.createElementNS(SVG, "title");
    const text = `${label}: ${series[0]} at the start, ${Math.max(...series)} at most, `
      + `${series[series.length - 1]} now`;
    title.textContent = text;
    svg.setAttribute("aria-label", text);
    svg.replaceChildren(title, line);
  };
  draw();
  return { svg, now: (count) => { series[series.length - 1] = count; draw(); } };
}

// A policy's numbers of error and warning rows now (the first row's page answers the total).
async function policyCounts(p) {
  const tables = (await api("GET", `/v1/policies/${enc(p.name)}/tables`)).results.map((t) => t.id);
  const out = {};
  await Promise.all(["error", "warning"].map(async (table) => {
    out[table] = tables.includes(table)
      ? (await api("GET", `/v1/policies/${enc(p.name)}/tables/${table}/rows?limit=1`)).total : 0;
  }));
  return out;
}

// The cell of a table's chart: drawn once the history answers (after the page shows), its last
// point kept at the live count.
function chartCell(policy, table, range) {
  const cell = el("td", { class: "chart", "data-chart": table },
    el("span", { class: "muted" }, "…"));
  let chart = null;
  let latest = null;
  countsOver(policy, table, range).then((series) => {
    if (series === null) {
      cell.replaceChildren(el("span", { class: "muted" }, "no history"));
      return;
    }
    if (latest !== null) series[series.length - 1] = latest;
    chart = sparkline(series, `${table} rows over the last ${RANGE_NAMES[range]}`);
    cell.replaceChildren(chart.svg);
  }).catch((err) => cell.replaceChildren(el("span", { class: "muted" }, err.message)));
  return { cell, now: (n) => { latest = n; if (chart) chart.now(n); } };
}

// A browser keeps at most six connections to a server (HTTP/1.1) and a change feed holds one,
// so the overview keeps at most FEEDS feeds open, the error tables first; it asks the rows
// route for the other counts every POLL_MS (an answer the server keeps until a change).
const FEEDS = 4;
const POLL_MS = 5000;

function keepLive(items) {
  const ordered = [...items.filter((i) => i.table === "error"),
    ...items.filter((i) => i.table !== "error")];
  for (const item of ordered.slice(0, FEEDS)) liveCount(item.policy, item.table, item.show);
  const rest = ordered.slice(FEEDS);
  if (!rest.length) return;
  const signal = streams.signal;
  const timer = setInterval(async () => {
    for (const item of rest) {
      if (signal.aborted) return;
      try {
        const page = await api("GET",
          `/v1/policies/${enc(item.policy)}/tables/${enc(item.table)}/rows?limit=1`);
        if (!signal.aborted) item.show(page.total);
      } catch (err) {
        // a table the policy does not have (yet): its count stays
      }
    }
  }, POLL_MS);
  signal.addEventListener("abort", () => clearInterval(timer));
}

async function overview() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const range = RANGES[params.get("range")] ? params.get("range") : "24h";
  const policies = (await api("GET", "/v1/policies")).results;
  const counts = await Promise.all(policies.map(policyCounts));
  const body = el("tbody");
  const live = [];
  policies.forEach((p, i) => {
    const cells = [];
    for (const [table, level] of [["error", "bad"], ["warning", "warn"]]) {
      const count = counts[i][table];
      const cell = el("td", { class: count ? `num ${level}` : "num ok", "data-table": table },
        count);
      const chart = chartCell(p.name, table, range);
      cells.push(cell, chart.cell);
      if (p.kind !== "action") {
        live.push({ policy: p.name, table, show: (n) => {
          cell.textContent = String(n);
          cell.className = n ? `num ${level}` : "num ok";
          chart.now(n);
        } });
      }
    }
    body.append(el("tr", { "data-policy": p.name },
      el("td", {}, el("a", { href: `#/policies/${enc(p.name)}` }, p.name)), ...cells));
  });
  keepLive(live);
  const picker = el("select", { "aria-label": "Time range", onchange: (event) => {
    location.hash = `#/?range=${event.target.value}`;
  } }, Object.keys(RANGES).map((r) => el("option", { value: r, selected: r === range },
    `Last ${RANGE_NAMES[r]}`)));
  return [
    el("h2", {}, "Violations"),
    el("div", { class: "pager" }, el("label", { class: "row" }, "Counts over", picker)),
    el("table", { "aria-label": "Violations per policy" },
      el("thead", {}, el("tr", {}, el("th", {}, "Policy"), el("th", { class: "num" }, "Errors"),
        el("th", {}, "Errors over time"), el("th", { class: "num" }, "Warnings"),
        el("th", {}, "Warnings over time"))),
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

// A policy's versions (docs/policy-lifecycle.md), newest first, each with a roll-back button.
function versionsTable(name, versions, message) {
  const system = name === "classification" || name === "action";
  const who = (v) => [v.user_id, v.project_id].filter(Boolean).join(" / ") || "—";
  return el("table", { "aria-label": "Versions" },
    el("thead", {}, el("tr", {}, ["Version", "Change", "Who", "Node", "Time", ""]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, versions.map((v, i) => el("tr", { "data-version": v.version },
      el("td", { class: "num" }, v.version),
      el("td", {}, v.action.replaceAll("_", " ")
        + (v.detail && v.detail.version ? ` to ${v.detail.version}` : "")),
      el("td", {}, who(v)), el("td", {}, v.node || ""), el("td", {}, v.time),
      el("td", {}, i === 0 || system || v.action === "policy_deleted" ? null
        : el("button", { type: "button", onclick: async () => {
          if (!confirm(`Roll policy ${name} back to version ${v.version}?`)) return;
          try {
            await api("POST", `/v1/policies/${enc(name)}?action=rollback`,
              { version: v.version });
            render();
          } catch (err) {
            message.replaceChildren(el("span", { class: "error", role: "alert" }, err.message));
          }
        } }, `Roll back to ${v.version}`))))));
}

async function policyPage(name) {
  const [tables, rules, versions] = await Promise.all([
    api("GET", `/v1/policies/${enc(name)}/tables`),
    api("GET", `/v1/policies/${enc(name)}/rules`),
    api("GET", `/v1/policies/${enc(name)}/versions?limit=20`).catch(() => ({ results: [] })),
  ]);
  const message = el("p", { role: "status" });
  return [
    el("h2", {}, `Policy ${name}`),
    el("h3", {}, "Rules"),
    el("ul", { class: "rules" }, rules.results.map((r) => el("li", {}, el("code", {}, r.rule)))),
    el("h3", {}, "New rule"),
    ruleEditor(name),
    el("h3", {}, "Tables"),
    el("ul", { class: "tables" }, tables.results.map((t) => el("li", {},
      el("a", { href: `#/policies/${enc(name)}/tables/${enc(t.id)}` }, t.id)))),
    el("h3", {}, "Versions"),
    message,
    versionsTable(name, versions.results, message),
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

// A table's rows, a page at a time from the server (?limit=&offset=&filter=), with a filter box;
// ``extra(row)`` adds a cell to each row (a button, say); ``columns`` names the columns.
function pagedRows(url, label, extra, columns) {
  const PAGE = 100;
  let offset = 0;
  let filter = "";
  const status = el("p", { role: "status" });
  const body = el("tbody");
  const prev = el("button", { type: "button" }, "Previous");
  const next = el("button", { type: "button" }, "Next");
  const search = el("input", { type: "search", "aria-label": "Filter rows",
    placeholder: "filter", autocomplete: "off" });
  let serial = 0;
  const load = async () => {
    const mine = ++serial;
    const page = await api("GET", `${url}?limit=${PAGE}&offset=${offset}&filter=${enc(filter)}`);
    if (mine !== serial) return; // a later load wins
    body.replaceChildren(...page.results.map((r) => el("tr", {},
      r.data.map((v) => el("td", {}, typeof v === "string" ? v : JSON.stringify(v))),
      extra ? el("td", {}, extra(r.data)) : null)));
    const last = Math.min(offset + PAGE, page.total);
    status.textContent = page.total ? `Rows ${offset + 1}-${last} of ${page.total}` : "No rows";
    prev.disabled = offset === 0;
    next.disabled = last >= page.total;
  };
  const shown = (promise) => promise.catch((err) => {
    status.replaceChildren(el("span", { class: "error" }, err.message));
  });
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); shown(load()); });
  next.addEventListener("click", () => { offset += PAGE; shown(load()); });
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { filter = search.value; offset = 0; shown(load()); }, 250);
  });
  return {
    load,
    nodes: [
      el("div", { class: "pager" }, search, prev, next, status),
      el("table", { "aria-label": label },
        columns ? el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))) : null,
        body),
    ],
  };
}

async function tablePage(policy, table) {
  const explanation = el("section", { "aria-label": "Explanation", class: "explanation",
    tabindex: "-1" });
  const why = (row) => el("button", { type: "button", class: "why", onclick: async () => {
    try {
      const answer = await api("POST", `/v1/policies/${enc(policy)}?action=explain`,
        { table, row });
      explanation.replaceChildren(el("h3", {}, `Why ${table}(${row.join(", ")})`),
        answer.holds ? el("ul", { class: "proof" }, proofTree(answer.explanation))
          : whyNot(answer.why_not));
    } catch (err) {
      explanation.replaceChildren(el("p", { class: "error" }, err.message));
    }
    explanation.focus();
  } }, "Why?");
  const rows = pagedRows(`/v1/policies/${enc(policy)}/tables/${enc(table)}/rows`,
    `Rows of ${table}`, why);
  await rows.load();
  return [
    el("h2", {}, `Table ${table} of policy `, el("a", { href: `#/policies/${enc(policy)}` }, policy)),
    ...rows.nodes,
    explanation,
  ];
}

// -- datasources -------------------------------------------------------------------------------
const shownStatus = (value) => (value === undefined || value === null || value === "None"
  ? "" : String(value));

async function datasourcesPage() {
  const sources = (await api("GET", "/v1/data-sources")).results;
  const statuses = await Promise.all(sources.map((ds) =>
    api("GET", `/v1/data-sources/${enc(ds.name)}/status`).catch((err) => ({ error: err.message }))));
  const message = el("p", { role: "status" });
  const rows = sources.map((ds, i) => {
    const st = statuses[i];
    const failing = shownStatus(st.last_error) || st.error || "";
    return el("tr", { "data-datasource": ds.name },
      el("td", {}, el("a", { href: `#/datasources/${enc(ds.name)}` }, ds.name)),
      el("td", {}, ds.driver),
      el("td", {}, ds.enabled ? "yes" : "no"),
      el("td", {}, shownStatus(st.last_updated) || "never"),
      el("td", { class: failing ? "bad" : "" }, failing),
      el("td", {}, el("button", { type: "button", onclick: async () => {
        if (!confirm(`Delete datasource ${ds.name}?`)) return;
        try {
          await api("DELETE", `/v1/data-sources/${enc(ds.name)}`);
          render();
        } catch (err) {
          message.replaceChildren(el("span", { class: "error" }, err.message));
        }
      } }, `Delete ${ds.name}`)));
  });
  return [
    el("h2", {}, "Datasources"),
    el("p", {}, el("a", { href: "#/datasources/new", class: "button" }, "New datasource")),
    message,
    el("table", { "aria-label": "Datasources" },
      el("thead", {}, el("tr", {}, ["Name", "Driver", "Enabled", "Last poll", "Last error", ""]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
  ];
}

// The form of a driver's options (GET /v1/system/drivers/<driver>): one field each, secrets
// as passwords, the required ones marked.
async function driverFields(driver, fields) {
  const info = await api("GET", `/v1/system/drivers/${enc(driver)}`);
  const secret = new Set(info.secret || []);
  const inputs = {};
  const items = Object.entries(info.config || {}).map(([name, need]) => {
    const required = need === "required";
    const input = name === "tables"
      ? el("textarea", { name, rows: 3, cols: 60, required, spellcheck: "false",
        placeholder: '{"servers": ["id", "status"]}' })
      : el("input", { name, required, autocomplete: "off",
        type: secret.has(name) ? "password" : "text" });
    inputs[name] = input;
    return el("label", {}, `${name}${required ? " (required)" : ""}`, input);
  });
  fields.replaceChildren(el("p", { class: "muted" }, info.description), ...items);
  return inputs;
}

async function newDatasourcePage() {
  const drivers = (await api("GET", "/v1/system/drivers")).results;
  const message = el("p", { role: "status" });
  const name = el("input", { name: "name", required: true, autocomplete: "off" });
  const description = el("input", { name: "description", autocomplete: "off" });
  const driver = el("select", { name: "driver" },
    drivers.map((d) => el("option", { value: d.id }, d.id)));
  const fields = el("fieldset", { class: "options" });
  let inputs = {};
  const choose = async () => {
    inputs = await driverFields(driver.value, fields);
  };
  driver.addEventListener("change", () => choose().catch((err) => {
    message.replaceChildren(el("span", { class: "error" }, err.message));
  }));
  const initial = drivers.find((d) => d.id === "push") || drivers[0];
  if (initial) driver.value = initial.id;
  await choose();
  const form = el("form", { class: "stacked", onsubmit: async (event) => {
    event.preventDefault();
    const config = {};
    for (const [key, input] of Object.entries(inputs)) {
      if (input.value.trim()) config[key] = input.value;
    }
    try {
      await api("POST", "/v1/data-sources", { name: name.value, driver: driver.value,
        description: description.value || null, config });
      location.hash = `#/datasources/${enc(name.value)}`;
    } catch (err) {
      message.replaceChildren(el("span", { class: "error", role: "alert" }, err.message));
    }
  } },
  el("label", {}, "Name (required)", name), el("label", {}, "Driver", driver),
  el("label", {}, "Description", description), fields,
  el("button", { type: "submit" }, "Create datasource"));
  return [el("h2", {}, "New datasource"), form, message];
}

function definitions(entries) {
  return el("dl", { class: "facts" }, entries.flatMap(([k, v]) => [el("dt", {}, k),
    el("dd", {}, v)]));
}

async function datasourcePage(name) {
  const path = `/v1/data-sources/${enc(name)}`;
  const [ds, status, schema, actions] = await Promise.all([
    api("GET", path), api("GET", `${path}/status`).catch((err) => ({ error: err.message })),
    api("GET", `${path}/schema`), api("GET", `${path}/actions`).catch(() => ({ results: [] })),
  ]);
  const message = el("p", { role: "status" });
  const config = Object.entries(ds.config || {}).map(([k, v]) => [k, String(v)]);
  const statusFacts = status.error ? [["error", status.error]]
    : Object.entries(status).map(([k, v]) => [k.replaceAll("_", " "), shownStatus(v) || "—"]);
  const refresh = el("button", { type: "button", onclick: async () => {
    try {
      await api("POST", `${path}?action=request-refresh`, {});
      message.replaceChildren(el("span", { class: "ok" }, "A poll was asked for."));
    } catch (err) {
      message.replaceChildren(el("span", { class: "error" }, err.message));
    }
  } }, "Poll now");
  return [
    el("h2", {}, `Datasource ${ds.name}`),
    definitions([["driver", ds.driver], ["description", ds.description || ""],
      ["enabled", ds.enabled ? "yes" : "no"], ...config]),
    el("h3", {}, "Status"), definitions(statusFacts),
    el("p", {}, refresh), message,
    el("h3", {}, "Tables"),
    el("table", { "aria-label": "Schema" },
      el("thead", {}, el("tr", {}, el("th", {}, "Table"), el("th", {}, "Columns"))),
      el("tbody", {}, schema.tables.map((t) => el("tr", { "data-table": t.table_id },
        el("td", {}, el("a", { href: `#/datasources/${enc(ds.name)}/tables/${enc(t.table_id)}` },
          t.table_id)),
        el("td", {}, t.columns.map((c) => c.name).join(", ")))))),
    el("h3", {}, "Actions"),
    actions.results.length
      ? el("table", { "aria-label": "Actions" },
        el("thead", {}, el("tr", {}, ["Action", "Arguments", "Description"]
          .map((h) => el("th", {}, h)))),
        el("tbody", {}, actions.results.map((a) => el("tr", {}, el("td", {}, a.name),
          el("td", {}, a.args.map((x) => x.name).join(", ")), el("td", {}, a.description || "")))))
      : el("p", { class: "muted" }, "This driver has no actions."),
  ];
}

// Replace a push datasource's table with rows pasted as JSON (PUT .../rows).
function pushForm(path, columns, onDone) {
  const text = el("textarea", { name: "rows", rows: 6, cols: 80, spellcheck: "false",
    "aria-label": "Rows as JSON",
    placeholder: `[[${columns.map((c) => `"${c}"`).join(", ")}], ...]  or  [{"${columns[0] || "id"}": ...}]` });
  const message = el("p", { role: "status" });
  const form = el("form", { class: "stacked", onsubmit: async (event) => {
    event.preventDefault();
    let rows;
    try {
      rows = JSON.parse(text.value);
    } catch (err) {
      message.replaceChildren(el("span", { class: "error", role: "alert" },
        `Not JSON: ${err.message}`));
      return;
    }
    try {
      await api("PUT", path, rows);
      message.replaceChildren(el("span", { class: "ok" },
        `Pushed ${Array.isArray(rows) ? rows.length : 0} rows.`));
      await onDone();
    } catch (err) {
      message.replaceChildren(el("span", { class: "error", role: "alert" }, err.message));
    }
  } }, text, el("button", { type: "submit" }, "Replace the rows"));
  return [el("h3", {}, "Push rows"), el("p", { class: "muted" },
    "Paste the table's new rows as JSON: they replace the rows it has."), form, message];
}

async function datasourceTablePage(name, table) {
  const path = `/v1/data-sources/${enc(name)}`;
  const [ds, spec] = await Promise.all([api("GET", path),
    api("GET", `${path}/tables/${enc(table)}/spec`)]);
  const columns = spec.columns.map((c) => c.name);
  const rows = pagedRows(`${path}/tables/${enc(table)}/rows`, `Rows of ${table}`, null, columns);
  await rows.load();
  return [
    el("h2", {}, `Table ${table} of datasource `,
      el("a", { href: `#/datasources/${enc(name)}` }, name)),
    ...rows.nodes,
    ...(ds.driver === "push" ? pushForm(`${path}/tables/${enc(table)}/rows`, columns, rows.load)
      : []),
  ];
}

const STATUSES = ["", "executed", "failed", "would_execute", "deferred", "held", "cancelled",
  "expired", "blocked_by_breaker", "requested", "logged", "refused"];

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
  [/^#?\/?(\?.*)?$/, "overview", () => overview()],
  [/^#\/datasources\/?$/, "datasources", () => datasourcesPage()],
  [/^#\/datasources\/new$/, "datasources", () => newDatasourcePage()],
  [/^#\/datasources\/([^/]+)$/, "datasources", (m) => datasourcePage(decodeURIComponent(m[1]))],
  [/^#\/datasources\/([^/]+)\/tables\/([^/]+)$/, "datasources",
    (m) => datasourceTablePage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
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
      if (!sessionStorage.getItem("congress.token") && await authStrategy() === "keystone") {
        if (mine === rendering) main.replaceChildren(...signInPage());
        return;
      }
      const content = await page(m);
      if (mine === rendering) main.replaceChildren(...content);
    } catch (err) {
      if (mine !== rendering) return;
      if (err.status === 401 && await authStrategy() === "keystone") {
        main.replaceChildren(...signInPage("Your session has ended: sign in again."));
      } else {
        main.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      }
    }
    return;
  }
  main.replaceChildren(el("p", { class: "error", role: "alert" }, "No such page."));
}

window.addEventListener("hashchange", render);
showWho();
render();
