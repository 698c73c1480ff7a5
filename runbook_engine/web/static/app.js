// runbook serve: the live notebook page. The server folds the run's events (RunState) and sends
// views of it; this script only draws them. Every piece of text goes in with textContent: no
// data is ever parsed as HTML. Answers go back to the same controller rules as the terminal's.

const role = document.body.dataset.role;
const operator = role === "operator";
const base = location.pathname.replace(/\/+$/, "");
const token = base.split("/")[1];
const PAGE_LINES = 2000;

const cells = new Map();
for (const root of document.querySelectorAll("section.cell[data-step]")) {
  cells.set(root.dataset.step, root);
}
const nodes = new Map();
for (const node of document.querySelectorAll("svg.graph g.gnode[data-step]")) {
  nodes.set(node.dataset.step, node);
}

let seq = 0;
let source = null;
let current = null; // the pending prompt: {data, root, keys}
const streams = new Map(); // "step\u0000host\u0000stream" -> {lines, dropped, spilled, pre, note}
const dirty = new Set();

// -- small DOM helpers -----------------------------------------------------------------------

// How long a step took, spelt as the terminal and the reports spell it (stamps.spell_elapsed).
function elapsed(seconds) {
  if (seconds < 10) return seconds.toFixed(2) + "s";
  if (seconds < 60) return seconds.toFixed(1) + "s";
  const total = Math.round(seconds), minutes = Math.floor(total / 60);
  if (minutes < 60) return minutes + "m" + String(total % 60).padStart(2, "0") + "s";
  return Math.floor(minutes / 60) + "h" + String(minutes % 60).padStart(2, "0") + "m";
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function button(label, key, cls, onClick) {
  const node = el("button", "btn" + (cls ? " " + cls : ""));
  node.type = "button";
  node.append(label);
  if (key) node.append(" ", el("kbd", "", key));
  node.addEventListener("click", onClick);
  return node;
}

function codeBlock(pieces) {
  const pre = el("pre", "code");
  const code = el("code");
  for (const [text, cls] of pieces) {
    code.append(cls ? el("span", cls, text) : document.createTextNode(text));
  }
  pre.append(code);
  return pre;
}

function liveArea(step) {
  const root = cells.get(step);
  if (!root) return null;
  const live = root.querySelector(".cell-live");
  if (!live.dataset.ready) {
    for (const part of ["result", "ran", "decision", "hosts", "folded", "outputs", "checks", "prompt-slot"]) {
      live.append(el("div", part));
    }
    live.dataset.ready = "1";
  }
  return live;
}

function setStatus(step, status) {
  for (const target of [cells.get(step), nodes.get(step)]) {
    if (!target) continue;
    for (const cls of [...target.classList]) if (cls.startsWith("st-")) target.classList.remove(cls);
    if (status) target.classList.add("st-" + status);
  }
}

// -- the run ---------------------------------------------------------------------------------

function drawRun(run) {
  const pill = document.getElementById("run-status");
  const status = run.waiting ? "waiting" : run.status;
  pill.className = "pill " + status;
  pill.textContent = run.waiting ? "waiting for the operator"
    : run.status === "running" ? (run.running ? "running " + run.running : "running")
    : run.status === "starting" ? "starting" : "run " + run.status;

  const panel = document.getElementById("run-panel");
  panel.replaceChildren(el("h2", "", "This run"));
  const counts = el("div", "counts");
  for (const [name, count] of Object.entries(run.counts)) {
    counts.append(el("span", "count " + name, `${count} ${name}`));
  }
  if (!counts.children.length) counts.append(el("span", "muted", "no step finished yet"));
  panel.append(counts);
  if (run.sessions > 1) panel.append(el("p", "run-line muted", `${run.sessions} sessions (resumed)`));
  for (const item of run.open_items) panel.append(el("p", "run-line warn", "open: " + item));
  if (run.notes.length) {
    const list = el("ul", "notes");
    for (const note of run.notes) list.append(el("li", "", (note.step ? note.step + ": " : "") + note.text));
    panel.append(el("p", "run-line", "Notes"), list);
  }
  drawVariables(run.variables);
  drawBanner(run);
}

function drawVariables(variables) {
  const table = document.getElementById("vars");
  if (!table) return;
  for (const variable of variables) {
    let row = [...table.rows].find((r) => r.dataset.var === variable.name);
    if (!row) {
      row = table.insertRow();
      row.dataset.var = variable.name;
      const th = el("th");
      th.append(el("code", "", variable.name));
      row.append(th, el("td"));
    }
    const cell = row.cells[1];
    const value = variable.value === null ? el("span", "value muted", "asked at run time")
      : el("code", "value", typeof variable.value === "string" ? variable.value : JSON.stringify(variable.value));
    cell.replaceChildren(value, " ", el("span", "source", variable.source));
  }
}

function drawBanner(run) {
  let banner = document.getElementById("banner");
  if (!banner) {
    banner = el("div", "banner");
    banner.id = "banner";
    document.getElementById("notebook").prepend(banner);
  }
  banner.replaceChildren();
  banner.className = "banner";
  if (!run.ended) return;
  banner.classList.add(run.status);
  const counts = Object.entries(run.counts).map(([s, n]) => `${n} ${s}`).join(", ");
  banner.append(el("div", "", `Run ${run.status}: ${counts || "nothing run"}`));
  if (run.status !== "ok" && operator) {
    const line = el("div", "resume", "Steps that finished stay done; the others run again. ");
    line.append(button("Resume this run", "", "primary", () => post("resume", {})));
    banner.append(line);
  } else if (run.status !== "ok") {
    banner.append(el("div", "resume", "The operator can resume this run."));
  }
}

// -- steps -----------------------------------------------------------------------------------

function drawStep(view) {
  const live = liveArea(view.id);
  if (!live) return;
  const status = view.running ? "running" : view.status;
  setStatus(view.id, status);
  const badge = cells.get(view.id).querySelector(".cell-status");
  badge.className = "cell-status " + (status || "");
  badge.textContent = status === "running" ? "running…" : status || "";

  const result = live.querySelector(".result");
  result.replaceChildren();
  if (view.running && operator) {
    result.append(el("span", "muted", `attempt ${view.attempts || 1} running `),
      button("Stop", "", "", () => post("stop", {})));
  } else if (view.status) {
    result.append(el("span", "status " + view.status, view.status));
    const facts = [];
    if (view.exit_code !== null && view.exit_code !== undefined) facts.push("exit " + view.exit_code);
    if (view.duration_s) facts.push(elapsed(view.duration_s));
    if (view.attempts > 1) facts.push(view.attempts + " attempts");
    if (view.reason) facts.push(view.reason);
    if (facts.length) result.append(el("span", "muted", "  " + facts.join(" · ")));
  }

  const ran = live.querySelector(".ran");
  ran.replaceChildren();
  const planned = cells.get(view.id).querySelector(".cell-code pre");
  if (view.command && (!planned || planned.textContent.trim() !== view.command.trim())) {
    ran.append(el("div", "", "ran, with the values of this run:"), codeBlock([[view.command, ""]]));
  }

  const decision = live.querySelector(".decision");
  decision.replaceChildren();
  for (const d of view.decisions) {
    if (d.edited) decision.append(el("div", "", "edited by the operator before it ran"));
    else if (d.answer === "choice") decision.append(el("div", "", d.choice ? "chose " + d.choice : "chose none"));
    else if (d.answer === "all") decision.append(el("div", "", "run all: the rest runs without asking"));
  }

  const hosts = live.querySelector(".hosts");
  hosts.replaceChildren();
  for (const [name, host] of Object.entries(view.hosts || {})) {
    hosts.append(el("div", "run-line", `${name}: ${host.status || "running"}` +
      (host.exit_code !== null && host.exit_code !== undefined ? ` (exit ${host.exit_code})` : "")));
  }

  // a fan-out step that ended: its hosts' output folded (identical once, the odd ones as a diff);
  // each host's own stream stays a click away
  const folded = live.querySelector(".folded");
  folded.replaceChildren();
  for (const fold of view.folded || []) {
    const box = el("div", "stream");
    const head = el("div", "stream-head");
    head.append(el("span", "", `${fold.hosts} (${fold.count} host${fold.count > 1 ? "s" : ""})` +
      (fold.odd ? " · differs from the majority" : "")));
    box.append(head, codeBlock([[(fold.odd ? fold.diff : fold.lines).join("\n"), ""]]));
    folded.append(box);
  }
  live.querySelector(".outputs").hidden = false;
  if (view.folded && view.folded.length) {
    const all = el("details", "per-host");
    all.append(el("summary", "", "each host's output"));
    const outputs = live.querySelector(".outputs");
    folded.append(all);
    all.addEventListener("toggle", () => { outputs.hidden = !all.open; });
    outputs.hidden = true;
  }

  const checks = live.querySelector(".checks");
  checks.replaceChildren();
  for (const check of view.checks || []) {
    const where = check.host ? ` on ${check.host}` : "";
    if (check.verdict === "matches") {
      checks.append(el("div", "check ok", `output matches what the runbook shows${where}`));
    } else {
      checks.append(el("div", "check differs", `output differs from the runbook (${check.source})${where}`),
        codeBlock([[check.diff, ""]]));
    }
  }

  const keep = new Set(view.outputs.map((o) => key(view.id, o.host, o.stream)));
  for (const [k, s] of [...streams]) {
    if (k.startsWith(view.id + "\u0000") && !keep.has(k)) {
      s.box.remove();
      streams.delete(k);
    }
  }
  for (const output of view.outputs) {
    const s = stream(view.id, output.host, output.stream);
    s.lines = output.lines.slice();
    s.dropped = output.dropped;
    s.spilled = output.spilled;
    dirty.add(s);
  }
  schedule();
}

function key(step, host, name) {
  return `${step}\u0000${host || ""}\u0000${name}`;
}

function stream(step, host, name) {
  const k = key(step, host, name);
  let s = streams.get(k);
  if (s) return s;
  const live = liveArea(step);
  const box = el("div", "stream");
  const head = el("div", "stream-head");
  head.append(el("span", "", (host ? host + " · " : "") + name));
  const note = el("span", "omitted");
  head.append(note);
  const pre = el("pre", "out " + name);
  box.append(head, pre);
  live.querySelector(".outputs").append(box);
  s = { step, host, name, lines: [], dropped: 0, spilled: null, box, pre, note };
  streams.set(k, s);
  return s;
}

function appendOutput(data) {
  if (!cells.has(data.step)) return;
  const s = stream(data.step, data.host, data.stream);
  const lines = data.text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  for (const line of lines) s.lines.push(line);
  if (s.lines.length > PAGE_LINES) {
    const extra = s.lines.length - PAGE_LINES;
    s.lines.splice(0, extra);
    s.dropped += extra;
  }
  dirty.add(s);
  schedule();
}

let timer = null;
function schedule() {
  if (timer === null) timer = setTimeout(render, 80); // at most ~12 redraws a second
}

function render() {
  timer = null;
  for (const s of dirty) {
    const atEnd = s.pre.scrollHeight - s.pre.scrollTop - s.pre.clientHeight < 24;
    s.pre.textContent = s.lines.join("\n");
    if (atEnd) s.pre.scrollTop = s.pre.scrollHeight;
    s.note.replaceChildren();
    if (s.dropped > 0 || s.spilled) {
      s.note.append(s.dropped > 0 ? `… ${s.dropped} earlier lines not shown · ` : "… earlier output not shown · ");
      const link = el("a", "", "open the full output");
      const params = new URLSearchParams({ stream: s.name });
      if (s.host) params.set("host", s.host);
      link.href = `${base}/output/${encodeURIComponent(s.step)}?${params}`;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      s.note.append(link);
    }
  }
  dirty.clear();
}

// -- the operator's question -----------------------------------------------------------------

function slotFor(data) {
  const live = data.step && data.kind !== "var" && data.kind !== "env" ? liveArea(data.step) : null;
  if (live) return live.querySelector(".prompt-slot");
  let dock = document.getElementById("dock");
  if (!dock) {
    dock = el("div", "dock");
    dock.id = "dock";
    document.getElementById("notebook").prepend(dock);
  }
  return dock;
}

function drawPrompt(data) {
  if (current) {
    current.root.remove();
    if (current.step) setStatus(current.step, current.previous);
  }
  current = null;
  if (!data) return;
  const root = el("div", "prompt");
  root.dataset.kind = data.kind;
  const question = el("div", "question", (data.prompt || "").replace(/\s*\[[^\]]*\]$/, ""));
  const error = el("div", "error");
  root.append(question);
  current = { data, root, keys: new Map(), error, step: data.step };
  if (data.step && cells.has(data.step)) {
    const node = nodes.get(data.step);
    current.previous = [...(node ? node.classList : [])].find((c) => c.startsWith("st-"))?.slice(3) || null;
    setStatus(data.step, "waiting");
  }
  if (!operator) {
    root.append(el("div", "watching", "waiting for the operator's answer"));
  } else {
    (BUILD[data.kind] || (() => {}))(data, root);
    root.append(error);
  }
  slotFor(data).append(root);
  const cell = data.step ? cells.get(data.step) : null;
  (cell || root).scrollIntoView({ block: "nearest", behavior: "smooth" });
  const focus = root.querySelector("input, select");
  if (focus) focus.focus({ preventScroll: true });
}

async function reply(fields) {
  if (!current) return;
  const { data, root, error } = current;
  for (const b of root.querySelectorAll("button")) b.disabled = true;
  const answer = await post("answer", { prompt: data.id, ...fields });
  if (current && current.data === data) {
    for (const b of root.querySelectorAll("button")) b.disabled = false;
    error.textContent = answer.ok ? "" : answer.message;
  }
}

function keyed(root, label, key, answer, cls) {
  const b = button(label, key, cls, () => reply({ text: answer }));
  current.keys.set(key, b);
  root.append(b);
  return b;
}

// the buttons of each question: label, key (what the terminal would type), style; "e" opens the
// editor. Which keys mean what is decided by the server (answers.py), never here.
const KEYS = {
  step: [["Run", "y", "primary"], ["Skip", "n"], ["Edit", "e"], ["Run all", "a"], ["Quit", "q"]],
  dangerous: [["Skip", "n"], ["Edit", "e"], ["Quit", "q"]],
  failure: [["Retry", "r", "primary"], ["Edit and retry", "e"], ["Skip", "s"], ["Quit", "q"]],
  manual: [["Done", "d", "primary"], ["Not done", "n"], ["Skip", "s"], ["Quit", "q"]],
  drift: [["Go on", "g", "primary"], ["Retry", "r"], ["Edit", "e"], ["Quit", "q"]],
};

function keys(row, list, openEditor) {
  for (const [label, key, cls] of list) {
    if (key === "e") current.keys.set("e", row.appendChild(button(label, "e", "", openEditor)));
    else keyed(row, label, key, key, cls);
  }
}

function editor(root, text, label) {
  const box = el("div", "row");
  box.hidden = true;
  const area = el("textarea");
  area.value = text;
  area.spellcheck = false;
  box.append(area, button(label, "", "primary", () => reply({ text: "e", command: area.value })),
    button("Cancel", "", "", () => { box.hidden = true; }));
  root.append(box);
  return () => { box.hidden = false; area.focus(); };
}

const BUILD = {
  step(data, root) {
    const cell = cells.get(data.step);
    const planned = cell && cell.querySelector(".cell-code pre");
    if (!planned || planned.textContent.trim() !== data.command.trim()) {
      root.append(el("div", "hint", "will run:"), codeBlock(data.pieces));
    }
    if (data.missing_env.length) root.append(el("div", "hint", "still unset: " + data.missing_env.join(", ")));
    const row = el("div", "row");
    if (data.danger.length) {
      root.append(el("div", "hint", "dangerous: " + data.danger.join("; ")));
      const typed = el("input");
      typed.type = "text";
      typed.placeholder = `type ${data.step} to run it`;
      typed.autocomplete = "off";
      typed.spellcheck = false;
      const run = button("Run", "", "danger", () => reply({ text: typed.value }));
      typed.addEventListener("keydown", (e) => { if (e.key === "Enter") run.click(); });
      row.append(typed, run);
    }
    root.append(row);
    keys(row, data.danger.length ? KEYS.dangerous : KEYS.step, editor(root, data.editable, "Run edited"));
  },
  failure(data, root) {
    root.append(el("div", "hint", `${data.status}${data.exit_code !== null ? " (exit " + data.exit_code + ")" : ""}: ${data.reason}`));
    const row = el("div", "row");
    root.append(row);
    const choices = data.failed_hosts
      ? [[`Retry on ${data.failed_hosts}`, "r", "primary"], ["Retry on all hosts", "a"], ...KEYS.failure.slice(1)]
      : KEYS.failure;
    keys(row, choices, editor(root, data.editable, "Retry edited"));
  },
  drift(data, root) {
    root.append(el("div", "hint", "The step succeeded; its output is shown above with how it differs."));
    const row = el("div", "row");
    root.append(row);
    keys(row, KEYS.drift, editor(root, data.editable, "Run edited"));
    const noteRow = el("div", "row");
    noteRow.hidden = true;
    const area = el("textarea");
    area.placeholder = "Why it differs, what to update in the runbook";
    noteRow.append(area, button("Go on with this note", "", "primary", () => reply({ text: "n", note: area.value })));
    root.append(noteRow);
    const noteButton = button("Note", "n", "", () => { noteRow.hidden = false; area.focus(); });
    current.keys.set("n", noteButton);
    row.insertBefore(noteButton, row.children[1] || null);
  },
  manual(data, root) {
    if (data.code && data.code.trim()) {
      root.append(el("div", "hint", "do this yourself" + (data.interpreter ? ` (in ${data.interpreter})` : "") + ":"),
        codeBlock([[data.code, ""]]));
    }
    const row = el("div", "row");
    keys(row, KEYS.manual);
    root.append(row);
  },
  choice(data, root) {
    data.options.forEach((option, i) => {
      const box = el("div", "option");
      box.append(el("div", "question", `${i + 1}. ${option.title}`), codeBlock(option.pieces));
      if (option.danger.length) box.append(el("div", "hint", "dangerous: " + option.danger.join("; ")));
      keyed(box, "Run this one", String(i + 1), String(i + 1), "primary");
      root.append(box);
    });
    const row = el("div", "row");
    keyed(row, "None of them", "n", "n");
    keyed(row, "Quit", "q", "q");
    root.append(row);
  },
  var(data, root) {
    question_(root, data.label);
    const row = el("div", "row");
    let input;
    if (data.choices.length) {
      input = el("select");
      for (const choice of data.choices) input.append(el("option", "", choice));
    } else {
      input = textInput(data.secret);
    }
    const send = () => { const text = input.value; if (data.secret) input.value = ""; reply({ text }); };
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") send(); });
    row.append(input, button("Set", "", "primary", send));
    if (data.secret) row.append(el("span", "hint", "not shown, never recorded"));
    root.append(row);
  },
  env(data, root) {
    const inputs = new Map();
    for (const item of data.names) {
      const row = el("div", "row");
      const input = textInput(item.secret);
      input.placeholder = item.name;
      row.append(el("span", "hint", item.label), input);
      inputs.set(item.name, input);
      root.append(row);
    }
    root.append(button("Set", "", "primary", () => {
      const values = {};
      for (const [name, input] of inputs) { values[name] = input.value; if (input.type === "password") input.value = ""; }
      reply({ values });
    }));
  },
};

function textInput(secret) {
  // a secret is typed blind, and never offered to the browser's password manager
  const input = el("input");
  input.type = secret ? "password" : "text";
  input.autocomplete = secret ? "new-password" : "off";
  input.spellcheck = false;
  return input;
}

function question_(root, text) {
  root.querySelector(".question").textContent = text;
}

document.addEventListener("keydown", (e) => {
  if (!current || e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
  const b = current.keys.get(e.key.toLowerCase());
  if (b && !b.disabled) {
    e.preventDefault();
    b.click();
  }
});

// -- notes -----------------------------------------------------------------------------------

function drawNotes() {
  const panel = document.getElementById("notes-panel");
  if (!panel) return;
  const area = el("textarea");
  area.placeholder = "A note for the incident record";
  const message = el("div", "hint");
  panel.append(el("h2", "", "Add a note"), area, button("Record note", "", "", async () => {
    const answer = await post("note", { text: area.value });
    message.textContent = answer.ok ? "recorded" : answer.message;
    if (answer.ok) area.value = "";
  }), message);
}

// -- talking to the server -------------------------------------------------------------------

async function post(path, body) {
  try {
    const response = await fetch(`${base}/api/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Runbook-Token": token },
      body: JSON.stringify(body),
      cache: "no-store",
    });
    let data = {};
    try { data = await response.json(); } catch { /* a refusal in plain text */ }
    return { ok: response.ok && data.ok !== false, message: data.message || (response.ok ? "" : `refused (${response.status})`) };
  } catch (error) {
    return { ok: false, message: "the server cannot be reached" };
  }
}

function problem(text) {
  const dock = slotFor({});
  dock.replaceChildren(el("div", "banner failed", text));
}

async function load() {
  const response = await fetch(`${base}/api/state`, { cache: "no-store" });
  const snapshot = await response.json();
  seq = snapshot.seq;
  for (const s of streams.values()) s.box.remove();
  streams.clear();
  drawRun(snapshot.run);
  for (const view of Object.values(snapshot.steps)) drawStep(view);
  drawPrompt(snapshot.prompt);
  listen();
}

function listen() {
  if (source) source.close();
  source = new EventSource(`${base}/api/events?after=${seq}`);
  const on = (name, handle) => source.addEventListener(name, (e) => {
    seq = Number(e.lastEventId) || seq;
    handle(JSON.parse(e.data));
  });
  on("output", appendOutput);
  on("step", drawStep);
  on("run", drawRun);
  on("prompt", drawPrompt);
  on("invalid", (data) => { if (current) current.error.textContent = data.text; });
  on("problem", (data) => problem(data.text));
  source.addEventListener("reset", () => { source.close(); load(); });
  source.addEventListener("open", () => document.body.classList.remove("offline"));
  source.addEventListener("error", () => document.body.classList.add("offline"));
}

drawNotes();
load();
