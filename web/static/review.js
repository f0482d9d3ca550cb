// The review queue, driven by the keyboard alone.
//   1–9 choose an option (multi-choice: toggle, Enter saves), 0 = no answer, Enter = accept the
//   machine's guess, Backspace = previous item, Z = undo the last decision, P = whole page.
// The next item is claimed and its image loaded while the reviewer looks at the current one, so a
// decision shows the next item at once; the decision itself is sent in the background.
"use strict";

(() => {
  const root = document.getElementById("review");
  if (!root) return;
  const T = root.dataset;
  const $ = (id) => document.getElementById(id);
  const state = {
    current: null, // the item on screen
    next: null, // prefetched
    saved: null, // the queue position while looking back at earlier decisions
    inflight: new Set(), // ids whose decision is still being sent
    selection: new Set(), // multi-choice answer being built
    digits: "",
    digitTimer: null,
    loading: false,
  };

  const decideUrl = (id) => T.decideUrl.replace(/\/0\/decide$/, `/${id}/decide`);

  function toast(text, bad = false) {
    const t = $("toast");
    t.textContent = text;
    t.classList.toggle("bad", bad);
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.textContent = ""; }, 2500);
  }

  function updateCounts(counts) {
    if (!counts) return;
    for (const [k, v] of Object.entries(counts)) {
      const el = $(`count-${k}`);
      if (el) el.textContent = v;
    }
  }

  async function claim(excludeIds) {
    const ex = [...excludeIds, ...state.inflight].filter(Boolean).join(",");
    const data = await window.omr.json(`${T.nextUrl}?kind=answer&exclude=${ex}`);
    updateCounts(data.counts);
    return data.item;
  }

  function words(item, value) {
    if (!value) return T.tNone;
    const labels = Object.fromEntries(item.options.map((o) => [o.value, o.label]));
    return value.split(",").map((v) => labels[v] || v).join(", ");
  }

  function show(item) {
    state.current = item;
    state.digits = "";
    root.dataset.item = item ? String(item.id) : "";
    const empty = !item;
    $("empty").hidden = !empty;
    $("crop").hidden = empty;
    root.classList.toggle("is-empty", empty);
    if (empty) {
      for (const id of ["meta", "reason", "question"]) $(id).textContent = "";
      $("options").replaceChildren();
      $("decided").hidden = true;
      return;
    }
    $("crop").src = item.crop_url;
    $("meta").textContent = `${item.form_title || ""} · ${T.tSerial} ${item.serial || "?"} · ${T.tPage} ${item.sheet_page || "?"} · ${item.unit_name || ""}`;
    $("reason").textContent = item.reason_text || "";
    $("question").textContent = item.question || item.field;
    const guess = new Set((item.machine_value || "").split(",").filter(Boolean));
    const final = new Set(item.final_state ? (item.final_value || "").split(",").filter(Boolean) : []);
    state.selection = new Set(item.field_kind === "multi" ? (item.final_state ? final : guess) : []);
    const list = $("options");
    list.replaceChildren();
    for (const o of item.options) {
      const li = document.createElement("li");
      li.dataset.value = o.value;
      if (guess.has(o.value)) li.classList.add("guess");
      if (final.has(o.value)) li.classList.add("chosen");
      if (state.selection.has(o.value)) li.classList.add("selected");
      const k = document.createElement("kbd");
      k.textContent = o.key;
      const label = document.createElement("span");
      label.textContent = o.label;
      li.append(k, label);
      if (guess.has(o.value)) {
        const g = document.createElement("em");
        g.textContent = ` ← ${T.tMachine}`;
        li.append(g);
      }
      list.append(li);
    }
    const none = document.createElement("li");
    none.className = "none" + (item.final_state === "blank" ? " chosen" : "") + (!guess.size && item.machine_state === "blank" ? " guess" : "");
    const k0 = document.createElement("kbd");
    k0.textContent = "0";
    const l0 = document.createElement("span");
    l0.textContent = T.tNone;
    none.append(k0, l0);
    list.append(none);
    const decided = $("decided");
    if (item.status === "done") {
      decided.hidden = false;
      decided.textContent = `${T.tDecided}: ${words(item, item.final_value)} (${T.tBy} ${item.decided_by || ""})`;
    } else {
      decided.hidden = item.field_kind !== "multi";
      decided.textContent = item.field_kind === "multi" ? T.tMulti : "";
    }
  }

  function preload(item) {
    if (item) { const img = new Image(); img.src = item.crop_url; }
  }

  async function prefetch() {
    if (!state.current || state.next) return;
    try {
      state.next = await claim([state.current.id]);
      preload(state.next);
    } catch (e) { /* tried again after the next decision */ }
  }

  async function advance() {
    if (state.saved) {
      // back from looking at earlier decisions: resume where the queue was
      const s = state.saved;
      state.saved = null;
      state.next = s.next;
      show(s.current);
      if (!s.current) await loadFirst();
      else prefetch();
      return;
    }
    if (state.next) {
      const n = state.next;
      state.next = null;
      show(n);
      prefetch();
      return;
    }
    await loadFirst();
  }

  async function loadFirst() {
    // a call while one is under way runs again after it: the later answer has the fresher counts
    if (state.loading) { state.reload = true; return; }
    state.loading = true;
    try {
      show(await claim([]));
      prefetch();
    } catch (e) {
      toast(e.message, true);
    } finally {
      state.loading = false;
      if (state.reload) { state.reload = false; if (!state.current) loadFirst(); }
    }
  }

  function decide(payload) {
    const item = state.current;
    if (!item) return;
    state.inflight.add(item.id);
    const sent = window.omr.json(decideUrl(item.id), { method: "POST", body: payload });
    advance();
    sent.then((d) => {
      updateCounts(d.counts);
      toast(`${T.tSaved}: ${payload.accept ? words(item, item.machine_value) : words(item, payload.value)}`);
    }).catch((e) => {
      // show the item again so the decision can be made once more
      toast(`${T.tError}: ${e.message}`, true);
      if (e.status !== 409) {
        if (state.current && state.current.status !== "done") state.next = state.current;
        show(item);
      }
    }).finally(() => {
      state.inflight.delete(item.id);
      // once the last decision in flight is stored, ask again: the queue and its counts as they now are
      if (!state.current && state.inflight.size === 0) loadFirst();
    });
  }

  function choose(n) {
    const item = state.current;
    if (!item) return;
    const opt = item.options.find((o) => o.key === n);
    if (!opt) return;
    if (item.field_kind === "multi") {
      if (state.selection.has(opt.value)) state.selection.delete(opt.value); else state.selection.add(opt.value);
      for (const li of $("options").children) li.classList.toggle("selected", state.selection.has(li.dataset.value));
      return;
    }
    decide({ value: opt.value });
  }

  function digit(d) {
    const item = state.current;
    if (!item) return;
    const n = item.options.length;
    clearTimeout(state.digitTimer);
    if (n <= 9) { choose(Number(d)); return; }
    // more than nine options: two digits typed quickly make one number
    state.digits += d;
    const v = Number(state.digits);
    if (v * 10 > n || state.digits.length >= 2) { state.digits = ""; choose(v); return; }
    state.digitTimer = setTimeout(() => { state.digits = ""; choose(v); }, 600);
  }

  function enter() {
    const item = state.current;
    if (!item) return;
    if (item.field_kind === "multi") {
      const chosen = [...state.selection].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)).join(",");
      if (chosen === (item.machine_value || "") && item.status !== "done") decide({ accept: true });
      else decide({ value: chosen || null });
      return;
    }
    if (item.status === "done") { advance(); return; } // looking back: Enter keeps it and goes on
    decide({ accept: true });
  }

  async function back() {
    const before = state.current && state.current.status === "done" ? state.current.id : "";
    try {
      const data = await window.omr.json(`${T.previousUrl}?before=${before}`);
      if (!data.item) { toast(T.tNoprev); return; }
      if (!state.saved) state.saved = { current: state.current, next: state.next };
      state.next = null;
      show(data.item);
    } catch (e) { toast(e.message, true); }
  }

  async function undo() {
    try {
      const data = await window.omr.json(T.undoUrl, { method: "POST", body: {} });
      updateCounts(data.counts);
      if (!data.item) { toast(T.tNoprev); return; }
      if (state.saved) { state.next = state.saved.current; state.saved = null; }
      else if (state.current && state.current.status !== "done") state.next = state.current;
      show(data.item);
      toast(T.tUndone);
    } catch (e) { toast(e.message, true); }
  }

  function togglePage(force) {
    const o = $("page-overlay");
    const open = force === undefined ? o.hidden : force;
    if (open && state.current) $("page-image").src = state.current.page_url;
    o.hidden = !open;
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target.closest("input, select, textarea")) return;
    const k = ev.key;
    let handled = true;
    if (k === "p" || k === "P") togglePage();
    else if (k === "Escape") togglePage(false);
    else if (!$("page-overlay").hidden) handled = false;
    else if (k >= "1" && k <= "9") digit(k);
    else if (k === "0" && state.digits) digit(k);
    else if (k === "0") decide({ value: null });
    else if (k === "Enter") enter();
    else if (k === "Backspace") back();
    else if (k === "z" || k === "Z") undo();
    else handled = false;
    if (handled) ev.preventDefault();
  });

  loadFirst();
})();
