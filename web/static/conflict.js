// Conflicts: keys 1 and 2 keep the left or the right scan.
"use strict";

document.addEventListener("keydown", (ev) => {
  if (ev.target.closest("input, select, textarea") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const btn = document.querySelector(`#conflict-form button[data-key='${ev.key}']`);
  if (btn) { ev.preventDefault(); btn.click(); }
});
