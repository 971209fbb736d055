/* The dashboard's script: the actions that need the token, "Try it", "Score a file", training
 * from an uploaded CSV, and the regions that refresh while a job runs. Plain JavaScript, no
 * build step. Text from the API (column names, categories, errors) is only ever set with
 * textContent, never parsed as HTML. The admin token lives in this tab's sessionStorage and
 * travels only in the Authorization header. */
"use strict";
(() => {
  const TOKEN = "nns.admin-token";
  const $ = (selector, root = document) => root.querySelector(selector);

  // -- small DOM helpers ----------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  // -- errors, shown as the API words them ------------------------------------------------
  function problemNode(body, status) {
    const box = el("div", "notice error");
    const message = body && typeof body.error === "string" ? body.error : `request failed (${status})`;
    box.append(el("strong", null, message.split("\n")[0]));
    const lines = [];
    for (const d of (body && body.details) || []) {
      const loc = (d.loc || []).filter((part) => part !== "body").join(" › ");
      lines.push(loc && !String(d.msg).startsWith("line ") ? `${loc}: ${d.msg}` : d.msg);
    }
    if (lines.length) {
      const list = el("ul");
      for (const line of lines) list.append(el("li", null, line));
      box.append(list);
    }
    if (status === 401) box.append(el("p", null, "The token was not accepted: the next action asks for it again."));
    return box;
  }
  function showProblem(body, status, where) {
    const target = where || $("#messages");
    clear(target).append(problemNode(body, status));
    if (!where) window.scrollTo({ top: 0 });
  }

  // -- the token: asked once per tab ------------------------------------------------------
  function forgetButton() {
    const button = $('[data-action="forget-token"]');
    if (button) button.hidden = !sessionStorage.getItem(TOKEN);
  }
  function askToken() {
    const dialog = $("#token-dialog");
    const input = $("#token-input");
    input.value = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        const value = dialog.returnValue === "ok" ? input.value.trim() : "";
        input.value = "";
        resolve(value || null);
      }, { once: true });
      dialog.showModal();
      input.focus();
    });
  }
  async function token() {
    let value = sessionStorage.getItem(TOKEN);
    if (!value) {
      value = await askToken();
      if (value) sessionStorage.setItem(TOKEN, value);
      forgetButton();
    }
    return value;
  }

  /** Send a request; with `admin`, the token as a bearer header. Returns {ok, status, body, response}. */
  async function api(method, url, { admin = false, json, body, type, accept } = {}) {
    const headers = {};
    if (admin) {
      const value = await token();
      if (!value) return null;
      headers.Authorization = `Bearer ${value}`;
    }
    if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
    if (type) headers["Content-Type"] = type;
    if (accept) headers.Accept = accept;
    const response = await fetch(url, { method, headers, body, credentials: "omit", cache: "no-store" });
    if (admin && response.status === 401) { sessionStorage.removeItem(TOKEN); forgetButton(); }
    const isJson = (response.headers.get("Content-Type") || "").startsWith("application/json");
    const data = isJson && !(accept === "text/csv" && response.ok) ? await response.json() : null;
    return { ok: response.ok, status: response.status, body: data, response };
  }

  // -- regions that follow a running job ----------------------------------------------------
  function follow(region) {
    const wait = Number(region.dataset.refresh) || 1500;
    setTimeout(() => refresh(region.id), wait);
  }
  async function refresh(id) {
    const region = document.getElementById(id);
    if (!region) return;
    try {
      const response = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById(id);
      if (fresh) {
        const node = document.importNode(fresh, true);
        region.replaceWith(node);
        if (node.dataset.refresh) follow(node);
        return;
      }
    } catch (error) { /* the next look may work: keep following */ }
    follow(region);
  }

  // -- buttons anywhere on a page ------------------------------------------------------------
  async function onAction(button) {
    const action = button.dataset.action;
    if (action === "forget-token") { sessionStorage.removeItem(TOKEN); forgetButton(); return; }
    if (action === "copy") {
      const text = document.getElementById(button.dataset.target).textContent;
      try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; }
      catch (error) { window.getSelection().selectAllChildren(document.getElementById(button.dataset.target)); }
      return;
    }
    button.disabled = true;
    try {
      const done = action === "promote"
        ? await api("PUT", button.dataset.url, { admin: true, json: { version: Number(button.dataset.version) } })
        : await api("DELETE", button.dataset.url, { admin: true });
      if (!done) return;
      if (!done.ok) { showProblem(done.body, done.status); return; }
      if (action === "promote") { location.reload(); return; }
      const region = button.closest("[id]");
      if (region) refresh(region.id);
    } finally { button.disabled = false; }
  }

  // -- Try it ------------------------------------------------------------------------------
  function rowOf(form) {
    const row = {};
    for (const input of form.querySelectorAll("[data-name]")) {
      const missing = form.querySelector(`[data-missing-for="${input.id}"]`);
      const kind = input.dataset.kind;
      let value;
      if (missing && missing.checked) value = null;
      else if (kind === "zero-one") value = input.checked ? 1 : 0;
      else if (kind === "json") value = JSON.parse(input.value);
      else if (kind === "number") value = input.value.trim() === "" ? null : Number(input.value);
      else value = input.value.trim() === "" ? null : input.value.trim();
      row[input.dataset.name] = value;
    }
    return row;
  }
  function shellQuote(text) { return `'${text.replace(/'/g, "'\\''")}'`; }
  function showPrediction(out, answer, form) {
    const classes = JSON.parse(form.dataset.classes || "[]");
    clear(out);
    const box = el("div", "notice ok");
    if ("prediction" in answer) {
      box.append(el("div", "result-label", answer.prediction));
    } else {
      box.append(el("div", "result-label", answer.label));
      const probs = answer.probabilities
        || (classes.length === 2 ? [1 - answer.probability, answer.probability] : [answer.probability]);
      const grid = el("div", "probabilities");
      probs.forEach((p, i) => {
        const meter = el("meter");
        meter.min = 0; meter.max = 1; meter.value = p;
        grid.append(el("span", null, classes[i] !== undefined ? classes[i] : answer.label), meter,
          el("span", null, p.toFixed(4)));
      });
      box.append(grid);
    }
    for (const warning of answer.warnings || []) box.append(el("p", "warning-inline", warning));
    box.append(el("div", "small muted", `${answer.model} version ${answer.version}`));
    out.append(box);
  }
  async function tryIt(form) {
    const out = $("#try-result");
    let row;
    try { row = rowOf(form); } catch (error) { clear(out).append(el("p", "notice error", String(error))); return; }
    const curl = `curl -s -X POST ${shellQuote(new URL(form.dataset.url, location.href).href)} `
      + `-H 'Content-Type: application/json' -d ${shellQuote(JSON.stringify(row))}`;
    $("#try-curl").textContent = curl;
    $("#try-curl-box").hidden = false;
    const done = await api("POST", form.dataset.url, { json: row });
    if (done.ok) showPrediction(out, done.body, form);
    else showProblem(done.body, done.status, out);
  }

  // -- Score a file -----------------------------------------------------------------------
  async function scoreFile(form) {
    const out = clear($("#score-result"));
    const file = $("#score-file").files[0];
    if (!file) return;
    out.append(el("p", "muted", `Scoring ${file.name}…`));
    const done = await api("POST", form.dataset.url, { body: file, type: "text/csv", accept: "text/csv" });
    clear(out);
    if (!done.ok) { showProblem(done.body, done.status, out); return; }
    const blob = await done.response.blob();
    const link = el("a", "button primary", `Download ${form.dataset.name}`);
    link.href = URL.createObjectURL(blob);
    link.download = form.dataset.name;
    const rows = done.response.headers.get("X-Rows");
    const box = el("div", "notice ok");
    box.append(el("p", null, `${rows} rows scored.`), link);
    const head = (await blob.slice(0, 1500).text()).split("\n").slice(0, 6).join("\n");
    box.append(el("pre", "small", head));
    out.append(box);
  }

  // -- Train from an uploaded CSV -------------------------------------------------------------
  function trainQuery(form, withTarget) {
    const query = new URLSearchParams();
    const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    if (value("model")) query.set("model", value("model"));
    if (withTarget && value("target")) query.set("target", value("target"));
    const excluded = [...form.querySelectorAll("#train-exclude input:checked")].map((box) => box.value);
    if (withTarget && excluded.length) query.set("exclude", excluded.join(","));
    for (const name of ["epochs", "hidden", "learning_rate", "sep"]) if (value(name)) query.set(name, value(name));
    if (withTarget) query.set("promote", value("promote") || "auto");
    return query;
  }
  async function sendCsv(url, form, withTarget) {
    const file = $("#train-file").files[0];
    if (!file) return null;
    return api("POST", `${url}?${trainQuery(form, withTarget)}`, { admin: true, body: file, type: "text/csv" });
  }
  function fillColumns(form, columns) {
    const select = form.elements.target;
    const previous = select.value;
    clear(select);
    for (const name of columns) select.append(new Option(name, name));
    select.value = columns.includes(previous) ? previous : columns[columns.length - 1];
    select.disabled = false;
    const box = clear($("#train-exclude .checks"));
    columns.forEach((name, i) => {
      const label = el("label");
      const check = el("input");
      check.type = "checkbox"; check.value = name; check.id = `exclude-${i}`;
      label.htmlFor = check.id;
      label.append(check, document.createTextNode(` ${name}`));
      box.append(label);
    });
    $("#train-exclude").hidden = false;
    hideTarget(form);
  }
  function hideTarget(form) {
    for (const box of form.querySelectorAll("#train-exclude input")) {
      const isTarget = box.value === form.elements.target.value;
      box.closest("label").hidden = isTarget;
      if (isTarget) box.checked = false;
    }
  }
  function showPreview(preview) {
    const section = $("#train-preview");
    const parts = [`${preview.rows} rows`, `task: ${preview.task}`, `target: ${preview.target}`];
    if (preview.classes) parts.push(`classes: ${preview.classes.join(", ")}`);
    if (preview.dropped) parts.push(`${preview.dropped} rows without a target left out`);
    if (preview.read_as.delimiter) parts.push(`${preview.read_as.delimiter}-separated`);
    if (preview.read_as.decimal) parts.push(`decimal ${preview.read_as.decimal}s`);
    if (preview.current_version) parts.push(`compared with version ${preview.current_version}`);
    $("#train-summary").textContent = parts.join(" · ");
    const body = clear($("#train-features"));
    for (const f of preview.features) {
      const tr = el("tr");
      tr.append(el("th", null, f.name), el("td", null, f.type), el("td", null, f.description));
      tr.firstChild.scope = "row";
      body.append(tr);
    }
    section.hidden = false;
  }
  async function checkTraining(form) {
    const submit = $("#train-submit");
    submit.disabled = true;
    $("#train-preview").hidden = true;
    clear($("#messages"));
    const file = $("#train-file").files[0];
    if (!file) return;
    if (!form.elements.model.value.trim()) { form.elements.model.focus(); form.reportValidity(); return; }
    if (form.elements.target.disabled) {
      const columns = await sendCsv(form.dataset.previewUrl, form, false);
      if (!columns) return;
      if (!columns.ok) { showProblem(columns.body, columns.status); return; }
      fillColumns(form, columns.body.columns);
    }
    const done = await sendCsv(form.dataset.previewUrl, form, true);
    if (!done) return;
    if (!done.ok) { showProblem(done.body, done.status); return; }
    showPreview(done.body);
    submit.disabled = false;
  }
  async function queueTraining(form) {
    if (!form.reportValidity()) return;
    const done = await sendCsv(form.dataset.trainUrl, form, true);
    if (!done) return;
    if (!done.ok) { showProblem(done.body, done.status); return; }
    location.assign(form.dataset.jobUrl.replace("0".repeat(32), done.body.job_id));
  }
  function setUpTraining(form) {
    $("#train-file").addEventListener("change", () => {
      form.elements.target.disabled = true;
      $("#train-exclude").hidden = true;
      checkTraining(form);
    });
    $("#train-preview-button").addEventListener("click", () => checkTraining(form));
    for (const name of ["target", "sep", "model"]) {
      form.elements[name].addEventListener("change", () => {
        if (name === "sep") form.elements.target.disabled = true;
        if (name === "target") hideTarget(form);
        checkTraining(form);
      });
    }
    $("#train-exclude").addEventListener("change", () => checkTraining(form));
    form.addEventListener("submit", (event) => { event.preventDefault(); queueTraining(form); });
  }

  // -- wiring ------------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) onAction(button);
  });
  forgetButton();
  for (const region of document.querySelectorAll("[data-refresh]")) follow(region);
  const tryForm = $("#try-form");
  if (tryForm) tryForm.addEventListener("submit", (event) => { event.preventDefault(); tryIt(tryForm); });
  const scoreForm = $("#score-form");
  if (scoreForm) scoreForm.addEventListener("submit", (event) => { event.preventDefault(); scoreFile(scoreForm); });
  const trainForm = $("#train-form");
  if (trainForm) setUpTraining(trainForm);
})();
