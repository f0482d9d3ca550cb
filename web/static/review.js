// The review queue, driven by the keyboard alone.
//   1–9 (then a, b, c… on long lists) choose an option (multi-choice: toggle, Enter saves), 0 = no
//   answer, Enter = accept the machine's guess (only when it has one), Backspace = previous item,
//   Z = undo the last decision, X = zoom the crop, P = whole page.
// The next two items are claimed and their crops decoded while the reviewer looks at the current one,
// so a decision shows the next item at once; the decision itself is sent in the background.
// Keys are ignored for GUARD_MS after a new item appears: a bounced or doubled key press cannot
// decide an item nobody has seen yet.
"use strict";

(() => {
  const root = document.getElementById("review");
  if (!root) return;
  const T = root.dataset;
  const $ = (id) => document.getElementById(id);
  const GUARD_MS = 180; // a key bounce or a double press is 20-100 ms apart; a person reads for ~1 s
  const AHEAD = 2; // items claimed and decoded behind the one on screen
  const RETRY_MS = [400, 1000, 2500, 5000]; // an empty prefetch asks again (someone may release items)
  const state = {
    current: null, // the item on screen
    ahead: [], // prefetched, crops decoding
    saved: null, // the queue position while looking back at earlier decisions
    inflight: new Set(), // ids whose decision is still being sent
    selection: new Set(), // multi-choice answer being built
    readyAt: Infinity, // keys count from this time on (performance.now())
    filling: false,
    retry: 0,
    retryTimer: null,
    loading: false,
    keyAt: null, // the key press that asked for the item now coming on screen
  };
  // what a test or benchmark reads: when each item's crop was decoded on screen, what was decided
  const record = { shown: [], decided: [], ignored: 0 };
  record.ahead = () => state.ahead.length;
  window.omrReview = record;

  const decideUrl = (id) => T.decideUrl.replace(/\/0\/decide$/, `/${id}/decide`);

  function toast(text, bad = false) {
    const t = $("toast");
    t.textContent = text;
    t.classList.toggle("bad", bad);
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.textContent = ""; }, 4000);
  }

  function updateCounts(counts, others) {
    if (counts) {
      for (const [k, v] of Object.entries(counts)) {
        const el = $(`count-${k}`);
        if (el) el.textContent = v;
      }
    }
    if (others !== undefined) {
      const el = $("others");
      const who = (others || {}).answer || [];
      el.hidden = !who.length;
      el.textContent = who.length ? T.tOthers
        .replace("{n}", who.reduce((a, w) => a + w.n, 0))
        .replace("{who}", who.map((w) => w.user).join(", ")) : "";
    }
  }

  function preload(item) {
    if (!item) return item;
    const img = new Image();
    img.alt = T.tCropAlt;
    img.id = "crop";
    img.src = item.crop_url;
    item.img = img;
    item.ready = img.decode().then(() => true, () => false);
    return item;
  }

  async function claim(excludeIds) {
    const ex = [...excludeIds, ...state.inflight].filter(Boolean).join(",");
    const saving = [...state.inflight].join(",");
    const data = await window.omr.json(`${T.nextUrl}?kind=answer&exclude=${ex}&saving=${saving}`);
    updateCounts(data.counts, data.others);
    return preload(data.item);
  }

  function words(item, value) {
    if (!value) return T.tNone;
    const labels = Object.fromEntries(item.options.map((o) => [o.value, o.label]));
    return value.split(",").map((v) => labels[v] || v).join(", ");
  }

  function where(item) {
    return `${T.tSerial} ${item.serial || "?"}, ${item.question_short || item.field}`;
  }

  function showCrop(item, keyAt) {
    if (!item.img) preload(item);
    const old = $("crop");
    old.replaceWith(item.img);
    state.readyAt = Infinity;
    const shownFor = item.id;
    item.ready.then((ok) => {
      if (!state.current || state.current.id !== shownFor) return;
      const now = performance.now();
      state.readyAt = now + GUARD_MS;
      root.dataset.ready = String(shownFor);
      record.shown.push({ id: shownFor, at: now, ms: keyAt == null ? null : now - keyAt, ok });
    });
  }

  function show(item, keyAt = null) {
    state.current = item;
    root.dataset.item = item ? String(item.id) : "";
    root.dataset.ready = "";
    const empty = !item;
    $("empty").hidden = !empty;
    $("crop-box").hidden = empty;
    root.classList.toggle("is-empty", empty);
    $("crop-box").classList.remove("zoomed");
    if (empty) {
      state.readyAt = Infinity;
      for (const id of ["meta", "reason", "question"]) $(id).textContent = "";
      $("options").replaceChildren();
      $("decided").hidden = true;
      $("enter-hint").textContent = T.tAgree;
      return;
    }
    showCrop(item, keyAt);
    $("meta").textContent = `${item.form_title || ""} · ${T.tSerial} ${item.serial || "?"} · ${T.tPage} ${item.sheet_page || "?"} · ${item.unit_name || ""}`;
    $("reason").textContent = item.reason_text || "";
    $("question").textContent = item.question || item.field;
    const guess = new Set((item.machine_value || "").split(",").filter(Boolean));
    const final = new Set(item.final_state ? (item.final_value || "").split(",").filter(Boolean) : []);
    state.selection = new Set(item.field_kind === "multi" ? (item.final_state ? final : guess) : []);
    $("enter-hint").textContent = item.machine_value ? T.tAgree : T.tNoGuessHint;
    const list = $("options");
    list.replaceChildren();
    for (const o of item.options) {
      const li = document.createElement("li");
      li.dataset.value = o.value;
      if (guess.has(o.value)) li.classList.add("guess");
      if (final.has(o.value)) li.classList.add("chosen");
      if (state.selection.has(o.value)) li.classList.add("selected");
      const k = document.createElement("kbd");
      k.textContent = o.key.toUpperCase();
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
    none.className = "none" + (item.final_state === "blank" ? " chosen" : "");
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
    } else if (!item.machine_value) {
      decided.hidden = false;
      decided.textContent = item.field_kind === "multi" ? `${T.tMulti} ${T.tNoGuess}` : T.tNoGuess;
    } else {
      decided.hidden = item.field_kind !== "multi";
      decided.textContent = item.field_kind === "multi" ? T.tMulti : "";
    }
  }

  function scheduleRetry() {
    clearTimeout(state.retryTimer);
    const wait = RETRY_MS[Math.min(state.retry, RETRY_MS.length - 1)];
    state.retry += 1;
    state.retryTimer = setTimeout(() => { state.retryTimer = null; fill(); }, wait);
  }

  // keep AHEAD items claimed behind the one on screen; an empty answer is asked again a little later
  async function fill() {
    if (state.filling || document.hidden) return;
    if (!state.current || state.saved || state.ahead.length >= AHEAD) return;
    state.filling = true;
    try {
      while (state.current && !state.saved && state.ahead.length < AHEAD) {
        const item = await claim([state.current.id, ...state.ahead.map((i) => i.id)]);
        if (!item) { scheduleRetry(); break; }
        if ((state.current && item.id === state.current.id) || state.ahead.some((i) => i.id === item.id)) break;
        state.ahead.push(item);
        state.retry = 0;
      }
    } catch (e) {
      scheduleRetry();
    } finally {
      state.filling = false;
    }
  }

  async function advance(keyAt = null) {
    if (state.saved) {
      // back from looking at earlier decisions: resume where the queue was
      const s = state.saved;
      state.saved = null;
      state.ahead = s.ahead;
      show(s.current, keyAt);
      if (!s.current) await loadFirst();
      else fill();
      return;
    }
    if (state.ahead.length) {
      show(state.ahead.shift(), keyAt);
      fill();
      return;
    }
    show(null);
    await loadFirst();
  }

  async function loadFirst() {
    // a call while one is under way runs again after it: the later answer has the fresher counts
    if (state.loading) { state.reload = true; return; }
    state.loading = true;
    try {
      const item = await claim([]);
      if (!state.current || !item || state.current.id !== item.id) show(item);
      if (item) fill();
    } catch (e) {
      toast(e.message, true);
    } finally {
      state.loading = false;
      if (state.reload) { state.reload = false; if (!state.current) loadFirst(); }
    }
  }

  function decide(payload, keyAt) {
    const item = state.current;
    if (!item) return;
    state.inflight.add(item.id);
    record.decided.push({ id: item.id, keyAt, shownAt: (record.shown.find((r) => r.id === item.id) || {}).at });
    const sent = window.omr.json(decideUrl(item.id), { method: "POST", body: payload });
    advance(keyAt);
    sent.then((d) => {
      updateCounts(d.counts);
      toast(`${T.tSaved} (${where(item)}): ${payload.accept ? words(item, item.machine_value) : words(item, payload.value)}`);
    }).catch((e) => {
      // show the item again so the decision can be made once more
      toast(`${T.tError} (${where(item)}): ${e.message}`, true);
      if (e.status !== 409) {
        if (state.current && state.current.status !== "done") state.ahead.unshift(state.current);
        show(item);
      }
    }).finally(() => {
      state.inflight.delete(item.id);
      // once the last decision in flight is stored, ask again: the queue and its counts as they now are
      if (!state.current && state.inflight.size === 0) loadFirst();
      else fill();
    });
  }

  function choose(key, keyAt) {
    const item = state.current;
    if (!item) return;
    const opt = item.options.find((o) => o.key === key);
    if (!opt) return;
    if (item.field_kind === "multi") {
      if (state.selection.has(opt.value)) state.selection.delete(opt.value); else state.selection.add(opt.value);
      for (const li of $("options").children) li.classList.toggle("selected", state.selection.has(li.dataset.value));
      return;
    }
    decide({ value: opt.value }, keyAt);
  }

  function enter(keyAt) {
    const item = state.current;
    if (!item) return;
    if (item.status === "done" && item.field_kind !== "multi") { advance(keyAt); return; } // looking back: keep it, go on
    if (item.field_kind === "multi") {
      const chosen = [...state.selection].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)).join(",");
      if (chosen) {
        if (chosen === (item.machine_value || "") && item.status !== "done") decide({ accept: true }, keyAt);
        else decide({ value: chosen }, keyAt);
        return;
      }
      if (item.status === "done" && !item.final_value) { advance(keyAt); return; }
    } else if (item.machine_value) {
      decide({ accept: true }, keyAt);
      return;
    }
    // nothing to agree with: saying "no answer" is the 0 key's job, never Enter's
    toast(T.tNoGuessEnter, true);
  }

  async function back() {
    const before = state.current && state.current.status === "done" ? state.current.id : "";
    try {
      const data = await window.omr.json(`${T.previousUrl}?before=${before}`);
      if (!data.item) { toast(T.tNoprev); return; }
      if (!state.saved) state.saved = { current: state.current, ahead: state.ahead };
      state.ahead = [];
      show(preload(data.item));
    } catch (e) { toast(e.message, true); }
  }

  async function undo() {
    try {
      const data = await window.omr.json(T.undoUrl, { method: "POST", body: {} });
      updateCounts(data.counts);
      if (!data.item) { toast(T.tNoprev); return; }
      if (state.saved) { state.ahead = [state.saved.current, ...state.saved.ahead].filter(Boolean); state.saved = null; }
      else if (state.current && state.current.status !== "done") state.ahead.unshift(state.current);
      show(preload(data.item));
      toast(T.tUndone);
    } catch (e) { toast(e.message, true); }
  }

  function togglePage(force) {
    const o = $("page-overlay");
    const open = force === undefined ? o.hidden : force;
    if (open && state.current) $("page-image").src = state.current.page_url;
    o.hidden = !open;
  }

  function toggleZoom(force) {
    const box = $("crop-box");
    box.classList.toggle("zoomed", force);
  }

  // leaving the page (tab closed, another page, the window hidden): hand the items held back at once,
  // so nobody waits for them to go stale; coming back claims afresh
  function releaseHeld() {
    const ids = [state.current, ...state.ahead, ...(state.saved ? [state.saved.current, ...state.saved.ahead] : [])]
      .filter((i) => i && i.status !== "done" && !state.inflight.has(i.id)).map((i) => i.id);
    if (!ids.length) return;
    const body = new URLSearchParams({ ids: ids.join(","), csrf_token: window.omr.csrf() });
    navigator.sendBeacon(T.releaseUrl, body);
    state.ahead = [];
    state.saved = null;
    state.released = true;
  }
  window.addEventListener("pagehide", releaseHeld);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { releaseHeld(); return; }
    if (state.released) { state.released = false; state.current = null; show(null); loadFirst(); }
  });

  const DECIDING = new Set(["Enter", "0"]); // with the option keys: what saves an answer

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target.closest("input, select, textarea")) return;
    const at = performance.now();
    const k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const item = state.current;
    const optionKey = item && item.options.some((o) => o.key === k);
    let handled = true;
    if (k === "p") togglePage();
    else if (k === "Escape") { togglePage(false); toggleZoom(false); }
    else if (!$("page-overlay").hidden) handled = false;
    else if (k === "x") toggleZoom();
    else if ((optionKey || DECIDING.has(k)) && at < state.readyAt && item) {
      // the item appeared a moment ago (or its crop is not on screen yet): this key was meant for the
      // one before, or bounced
      record.ignored += 1;
    } else if (optionKey) choose(k, at);
    else if (k === "0") decide({ value: null }, at);
    else if (k === "Enter") enter(at);
    else if (k === "Backspace") back();
    else if (k === "z") undo();
    else handled = false;
    if (handled) ev.preventDefault();
  });

  loadFirst();
})();
