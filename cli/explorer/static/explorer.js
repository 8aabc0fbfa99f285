// CareLedger explorer page: plain JS, no libraries. Everything the ledger says is put on the page as
// text (textContent), never as HTML. New blocks arrive over Server-Sent Events (/api/events).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { height: null, oldest: null, seenBlocks: new Set(), interval: 2 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

async function api(path) {
  const reply = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await reply.json().catch(() => ({ error: { code: String(reply.status), message: reply.statusText } }));
  if (!reply.ok) {
    const error = new Error(body.error ? body.error.message : reply.statusText);
    error.restricted = Boolean(body.error && body.error.restricted);
    error.code = body.error ? body.error.code : String(reply.status);
    throw error;
  }
  return body;
}

function restrictedText(error, what) {
  return error.restricted
    ? `Access restricted: this identity may not read ${what}. The peer says: ${error.message}`
    : `${what} unavailable (${error.code}): ${error.message}`;
}

function showHeight(height) {
  if (height === null || height === undefined) return;
  state.height = height;
  $("height").textContent = String(height);
}

// --- who, nodes and charts ------------------------------------------------------------------

async function loadWho() {
  const who = await api("/api/whoami");
  $("user").textContent = who.user;
  $("role").textContent = `(${who.role}${who.attributes.role ? ", role=" + who.attributes.role : ""})`;
  $("peer").textContent = who.peer;
  $("channel").textContent = who.channel;
  state.interval = who.interval;
  state.who = who;
}

async function loadNodes() {
  try {
    const data = await api("/api/nodes");
    const body = $("nodes").tBodies[0];
    body.replaceChildren(...data.nodes.map((n) => {
      const failed = Object.entries(n.failed_checks || {}).map(([k, v]) => `${k}: ${v}`).join("; ");
      const ok = n.health === "OK";
      return el("tr", { "data-node": n.id },
        el("td", {}, n.id), el("td", {}, n.kind), el("td", { class: "mono" }, n.address),
        el("td", { class: ok ? "health-OK" : "health-bad", title: failed }, n.health + (failed ? ` — ${failed}` : "")),
        el("td", {}, n.height ?? (n.kind === "orderer" && n.queue_depth !== null ? `queue ${n.queue_depth}` : "")),
        el("td", {}, n.ops ? el("a", { href: n.ops + "/metrics", target: "_blank" }, n.ops) : ""));
    }));
    drawChart($("chart-tps"), data.points, [["tps", "tps"]]);
    drawChart($("chart-latency"), data.points, [["endorse_ms", "endorse"], ["commit_ms", "commit"]]);
  } catch (error) {
    $("nodes").tBodies[0].replaceChildren(el("tr", {}, el("td", { colSpan: 6 }, String(error.message))));
  }
}

function drawChart(svg, points, series) {
  const W = 400, H = 120, left = 34, bottom = 14, ns = "http://www.w3.org/2000/svg";
  const values = points.flatMap((p) => series.map(([key]) => p[key])).filter((v) => v !== null && v !== undefined);
  const max = Math.max(1, ...values);
  const t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1;
  const x = (t) => left + ((t - t0) / Math.max(t1 - t0, 1e-6)) * (W - left - 4);
  const y = (v) => H - bottom - (v / max) * (H - bottom - 6);
  const nodes = [];
  const line = (attrs) => { const n = document.createElementNS(ns, "line"); for (const k in attrs) n.setAttribute(k, attrs[k]); return n; };
  const text = (xx, yy, s) => { const n = document.createElementNS(ns, "text"); n.setAttribute("x", xx); n.setAttribute("y", yy); n.textContent = s; return n; };
  nodes.push(line({ x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: "axis" }));
  nodes.push(line({ x1: left, y1: 0, x2: left, y2: H - bottom, class: "axis" }));
  nodes.push(text(2, 10, max.toFixed(max < 10 ? 1 : 0)), text(2, H - bottom, "0"));
  if (points.length) nodes.push(text(left, H - 2, `last ${Math.round(t1 - t0)} s`));
  for (const [key, cls] of series) {
    const coords = points.filter((p) => p[key] !== null && p[key] !== undefined).map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`);
    if (!coords.length) continue;
    const poly = document.createElementNS(ns, "polyline");
    poly.setAttribute("points", coords.join(" "));
    poly.setAttribute("class", cls);
    nodes.push(poly);
    for (const xy of coords) {  // a dot per point: a lone measurement shows too
      const [cx, cy] = xy.split(",");
      const dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", cx); dot.setAttribute("cy", cy); dot.setAttribute("r", "1.6");
      dot.setAttribute("class", cls);
      nodes.push(dot);
    }
  }
  svg.replaceChildren(...nodes);
}

// --- blocks and transactions ----------------------------------------------------------------

function blockItem(block, fresh) {
  const codes = block.transactions.map((t) => t.validation_code);
  const invalid = codes.filter((c) => c !== "VALID").length;
  return el("li", { "data-block": String(block.number), "data-filtered": String(block.filtered), class: fresh ? "new" : "" },
    el("a", { href: `#block-${block.number}`, onclick: (e) => { e.preventDefault(); showBlock(block.number); } },
      `block ${block.number}`),
    ` · ${block.transactions.length} tx`, invalid ? el("span", { class: "invalid" }, ` · ${invalid} invalid`) : "",
    block.filtered ? el("span", { class: "note" }, " · filtered view")
      : el("span", {}, ` · ${block.time || ""} · `, el("span", { class: "mono" }, block.hash.slice(0, 16) + "…")));
}

function txRow(block, tx, fresh) {
  return el("tr", { "data-tx-id": tx.tx_id, "data-block": String(block), class: fresh ? "new" : "" },
    el("td", {}, String(block)),
    el("td", { class: "mono" }, el("a", { href: `#tx-${tx.tx_id}`, onclick: (e) => { e.preventDefault(); showTx(tx.tx_id); } }, tx.tx_id)),
    el("td", {}, tx.contract === undefined ? "—" : `${tx.contract}.${tx.function}`), el("td", {}, tx.creator ?? "—"),
    el("td", { class: tx.validation_code === "VALID" ? "code-VALID" : "invalid" }, tx.validation_code),
    el("td", {}, tx.timestamp ?? "—"));
}

function addBlock(block, fresh) {
  // Newest first, wherever the block comes from (the first load, the replay of recent ones, live).
  if (state.seenBlocks.has(block.number)) return;
  state.seenBlocks.add(block.number);
  const list = $("blocks"), rows = $("transactions").tBodies[0];
  const below = (items) => Array.from(items).find((n) => Number(n.dataset.block) < block.number) || null;
  list.insertBefore(blockItem(block, fresh), below(list.children));
  const next = below(rows.rows);
  for (const tx of block.transactions) rows.insertBefore(txRow(block.number, tx, fresh), next);
  state.oldest = state.oldest === null ? block.number : Math.min(state.oldest, block.number);
  $("older").hidden = state.oldest <= 0 || Boolean(state.restricted);
}

function restrict(message, filtered = true) {
  const shown = !filtered ? "" : " Shown instead: the filtered view every member may read (block numbers, transaction ids and " +
    "validation codes); a transaction of your own opens in full.";
  for (const id of ["blocks-restricted", "transactions-restricted"]) {
    $(id).textContent = message + shown;
    $(id).hidden = false;
  }
  state.restricted = filtered;
  $("older").hidden = true;
}

async function loadBlocks(before) {
  try {
    const data = await api(before === undefined ? "/api/blocks" : `/api/blocks?before=${before}`);
    if (before === undefined) showHeight(data.height);
    for (const block of data.blocks) addBlock(block, false);
  } catch (error) {
    restrict(restrictedText(error, "full blocks"), error.restricted);
  }
}

function showDetail(title, rows) {
  $("detail").replaceChildren(el("h3", {}, title),
    el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, v))))));
  $("detail-section").hidden = false;
  $("detail-section").scrollIntoView();
}

async function showBlock(number) {
  try {
    const b = await api(`/api/blocks/${number}`);
    showDetail(`block ${b.number}`, [["hash", b.hash], ["previous hash", b.previous_hash], ["data hash", b.data_hash],
      ["orderer time", b.time], ...b.transactions.map((t, i) => [`tx ${i}`, `${t.tx_id} ${t.contract}.${t.function} by ${t.creator}: ${t.validation_code}`])]);
  } catch (error) {
    showDetail(`block ${number}`, [["", restrictedText(error, `block ${number}`)]]);
  }
}

async function showTx(txId) {
  try {
    const t = await api(`/api/tx/${encodeURIComponent(txId)}`);
    showDetail(`transaction ${t.tx_id}`, [["block", String(t.block)], ["call", `${t.contract}.${t.function}`],
      ["creator", t.creator], ["validation code", t.validation_code], ["proposal time", t.timestamp],
      ["argument sizes (bytes)", t.arg_bytes.join(", ")]]);
  } catch (error) {
    showDetail(`transaction ${txId}`, [["", restrictedText(error, "this transaction")]]);
  }
}

// --- contracts and disclosures --------------------------------------------------------------

async function loadContracts() {
  const data = await api("/api/contracts");
  $("contracts").tBodies[0].replaceChildren(...data.contracts.map((c) =>
    el("tr", { "data-contract": c.name }, el("td", {}, c.name), el("td", { class: "mono" }, c.policy),
      el("td", {}, `${c.version} (sequence ${c.sequence})`), el("td", { class: "mono" }, c.package_id))));
  $("contracts-source").textContent = `from the ${data.source}`;
}

async function loadDisclosures() {
  const start = $("disclosures-start").value || "1970-01-01";
  const end = $("disclosures-end").value || "9999-12-31";
  try {
    const data = await api(`/api/disclosures?start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`);
    $("disclosures").tBodies[0].replaceChildren(...data.entries.map((d) =>
      el("tr", { "data-record": d.record }, el("td", {}, d.date), el("td", {}, d.recipient), el("td", {}, d.record),
        el("td", {}, d.category), el("td", {}, d.purpose), el("td", {}, d.basis))));
    $("disclosures").hidden = false;
    $("disclosures-message").textContent = `${data.entries.length} disclosure(s) of ${state.who.id}'s records from ${data.start} to ${data.end}`;
  } catch (error) {
    $("disclosures").hidden = true;
    const hint = state.who.attributes.role === "patient" ? ""
      : " — the accounting of disclosures is a patient's own: run the explorer with --user ORG:NAME of a role=patient identity";
    $("disclosures-message").textContent = restrictedText(error, "the accounting of disclosures") + hint;
  }
}

// --- live updates ---------------------------------------------------------------------------

function follow() {
  const source = new EventSource("/api/events");
  source.onopen = () => $("live").classList.remove("off");
  source.onerror = () => $("live").classList.add("off");
  source.addEventListener("block", (event) => {
    const block = JSON.parse(event.data);
    if (state.height === null || block.number + 1 > state.height) showHeight(block.number + 1);
    addBlock(block, true);
  });
  source.addEventListener("recent", (event) => addBlock(JSON.parse(event.data), false));
  source.addEventListener("height", (event) => {
    const s = JSON.parse(event.data);
    showHeight(s.height);
    if (s.restricted) restrict(`Access restricted: this identity may not read full blocks. The peer says: ${s.restricted}`);
    $("problem").hidden = !s.problem;
    $("problem").textContent = s.problem ? `Following the chain paused: ${s.problem}` : "";
  });
}

async function main() {
  await loadWho();
  $("search").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("search-input").value.trim();
    if (/^\d+$/.test(q)) showBlock(Number(q)); else if (q) showTx(q);
  });
  $("detail-close").addEventListener("click", () => { $("detail-section").hidden = true; });
  $("older").addEventListener("click", () => loadBlocks(state.oldest));
  $("disclosure-range").addEventListener("submit", (e) => { e.preventDefault(); loadDisclosures(); });
  follow();
  await Promise.all([loadBlocks(), loadContracts(), loadNodes(), loadDisclosures()]);
  setInterval(loadNodes, state.interval * 1000);
}

main().catch((error) => {
  $("problem").hidden = false;
  $("problem").textContent = `The explorer could not start: ${error.message}`;
});
