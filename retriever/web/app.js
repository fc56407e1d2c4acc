// The search page: debounced suggestions as you type, keyboard choice, one-key copy.
"use strict";
const input = document.getElementById("q");
const everyLevel = document.getElementById("levels");
const list = document.getElementById("results");
const status = document.getElementById("status");
const toast = document.getElementById("toast");
let picked = -1, candidates = [], timer = null, asked = 0;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;  // textContent: catalogue text is never parsed as HTML
  return node;
}

function render() {
  list.replaceChildren();
  let shown = null;
  candidates.forEach((c, i) => {
    // the category above its codes, said again when it changes: a coder sees where a code stands
    const cat = c.category && c.category.code !== c.code ? c.category : null;
    if (cat && cat.code !== shown) {
      const head = el("li", "category", cat.code + "  " + cat.title);
      head.setAttribute("role", "presentation");
      list.append(head);
    }
    shown = c.category ? c.category.code : null;
    const li = el("li", i === picked ? "picked" : "");
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", i === picked ? "true" : "false");
    li.dataset.code = c.code;
    li.append(el("span", "score", c.score.toFixed(3)), el("span", "code", c.code), el("span", "title", c.title));
    li.append(el("span", "flag " + (c.is_leaf ? "billable" : "header"), c.is_leaf ? "billable" : "not billable"));
    if (c.path) {
      const path = el("div", "path", c.path.map(p => p.code).join(" → "));
      path.title = c.path.map(p => p.code + " " + p.title).join("\n");
      li.append(path);
    }
    if (c.evidence && (c.evidence !== c.title || c.found_as)) {
      const from = ["title", "synonym"].includes(c.evidence_kind) ? "" : ` (${c.evidence_kind}${c.evidence_note ? ": " + c.evidence_note : ""})`;
      li.append(el("div", "evidence", "matched: " + c.evidence + from + (c.found_as ? ` → ${c.found_as}, chosen below it` : "")));
    }
    if (c.missing && c.missing.length) li.append(el("div", "missing", "not said: " + c.missing.join(", ")));
    (c.excludes || []).slice(0, 3).forEach(x => li.append(el("div", "excludes", "excludes: " + x.note)));
    li.addEventListener("click", () => { picked = i; render(); copy(); });
    list.append(li);
  });
}

async function ask(text) {
  const mine = ++asked;
  status.textContent = "searching…";
  try {
    const res = await fetch("/suggest", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text, k: 10, details: true, levels: everyLevel.checked ? "all" : "assignable"}),
    });
    const body = await res.json();
    if (mine !== asked) return;  // a newer phrase was typed meanwhile
    if (!res.ok) { status.textContent = body.error || "error " + res.status; candidates = []; render(); return; }
    candidates = body.candidates;
    picked = candidates.length ? 0 : -1;
    const ranking = body.rerank === "applied" ? " (reranked)"
      : (body.rerank || "").includes("latency budget") ? " (first-stage ranking: the server is busy)" : "";
    status.textContent = candidates.length ? `${candidates.length} codes${ranking}` : "no codes found";
    render();
  } catch (e) {
    if (mine === asked) status.textContent = "the server did not answer";
  }
}

function schedule() {
  clearTimeout(timer);
  const text = input.value.trim();
  if (!text) { candidates = []; picked = -1; status.textContent = ""; render(); return; }
  timer = setTimeout(() => ask(text), 200);
}

function show(message) {
  toast.textContent = message;
  toast.hidden = false;
  setTimeout(() => { toast.hidden = true; }, 1500);
}

async function copy() {
  if (picked < 0) return;
  const code = candidates[picked].code;
  try { await navigator.clipboard.writeText(code); } catch (e) { /* no clipboard access: still show it */ }
  show("copied " + code);
}

input.addEventListener("input", schedule);
everyLevel.addEventListener("change", schedule);
document.addEventListener("keydown", e => {
  if (e.target === noteBox || e.target.tagName === "BUTTON" || e.target.tagName === "SELECT") return;  // the note mode's own keys
  if (e.key === "ArrowDown" && candidates.length) { picked = Math.min(picked + 1, candidates.length - 1); render(); e.preventDefault(); }
  else if (e.key === "ArrowUp" && candidates.length) { picked = Math.max(picked - 1, 0); render(); e.preventDefault(); }
  else if (e.key === "Enter") { copy(); e.preventDefault(); }
  else if (e.key === "Escape") { input.value = ""; schedule(); input.focus(); }
});


// -- note mode: POST /code, the note shown with its mentions marked, the codes below it ----------
const noteBox = document.getElementById("note");
const noteStatus = document.getElementById("note-status");
const marked = document.getElementById("marked");
const noteCodes = document.getElementById("note-codes");

function setMode(note) {
  document.getElementById("phrase-mode").hidden = note;
  document.getElementById("note-mode").hidden = !note;
  document.getElementById("hint-phrase").hidden = note;
  document.getElementById("hint-note").hidden = !note;
  document.getElementById("mode-phrase").setAttribute("aria-selected", note ? "false" : "true");
  document.getElementById("mode-note").setAttribute("aria-selected", note ? "true" : "false");
  (note ? noteBox : input).focus();
}

function showNote(text, codes, only) {
  // spans of the mentions, each once, outer ones first; a nested span stays inside its outer one's mark
  const spans = new Map();
  codes.forEach((c, rank) => c.mentions.forEach(m => {
    if (only !== undefined && only !== rank) return;
    const key = m.start + ":" + m.end;
    const coded = c.selected && !["negated", "hypothetical"].includes(m.assertion);
    if (!coded && !["negated", "hypothetical"].includes(m.assertion) && only === undefined) return;
    const s = spans.get(key) || {start: m.start, end: m.end, assertion: m.assertion, codes: []};
    s.codes.push(c.code);
    spans.set(key, s);
  }));
  const ordered = [...spans.values()].sort((a, b) => a.start - b.start || b.end - a.end);
  marked.replaceChildren();
  let at = 0;
  for (const s of ordered) {
    if (s.start < at) continue;
    marked.append(document.createTextNode(text.slice(at, s.start)));
    const mark = el("mark", "mention " + s.assertion, text.slice(s.start, s.end));
    mark.title = s.assertion + ": " + s.codes.join(", ");
    marked.append(mark);
    at = s.end;
  }
  marked.append(document.createTextNode(text.slice(at)));
}

function listCodes(text, codes) {
  noteCodes.replaceChildren();
  codes.forEach((c, rank) => {
    if (!c.selected && !c.mentions.some(m => ["negated", "hypothetical"].includes(m.assertion))) return;
    const li = el("li", c.selected ? "selected" : "not-coded");
    li.dataset.code = c.code;
    li.append(el("span", "score", c.score.toFixed(3)), el("span", "code", c.code), el("span", "title", c.title));
    const said = [...new Set(c.mentions.map(m => m.assertion))].join(", ");
    li.append(el("div", "evidence", "mentions: " + c.mentions.map(m => "“" + m.text + "”").join(", ") + " (" + said + ")"));
    li.addEventListener("mouseenter", () => showNote(text, codes, rank));
    li.addEventListener("mouseleave", () => showNote(text, codes));
    noteCodes.append(li);
  });
}

async function codeNote() {
  const text = noteBox.value;
  noteStatus.textContent = "coding…";
  try {
    const res = await fetch("/code", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text, language: document.getElementById("language").value}),
    });
    const body = await res.json();
    if (!res.ok) { noteStatus.textContent = body.error || "error " + res.status; marked.replaceChildren(); noteCodes.replaceChildren(); return; }
    const chosen = body.codes.filter(c => c.selected).length;
    noteStatus.textContent = `${chosen} codes selected (threshold ${body.threshold}), ${body.mentions} mentions`;
    showNote(text, body.codes);
    listCodes(text, body.codes);
  } catch (e) {
    noteStatus.textContent = "the server did not answer";
  }
}

document.getElementById("mode-phrase").addEventListener("click", () => setMode(false));
document.getElementById("mode-note").addEventListener("click", () => setMode(true));
document.getElementById("code-note").addEventListener("click", codeNote);
