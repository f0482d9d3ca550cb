// Upload page: live progress of stacks being read in the background (polled from the server).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", () => {
      const b = document.getElementById("upload-button");
      if (b) { b.disabled = true; b.classList.add("busy"); }
    });
  }

  // one stack's page: poll until done, then reload to show the per-page results
  const one = document.getElementById("batch");
  if (one && one.dataset.running === "1") {
    const bar = document.getElementById("progress");
    const text = document.getElementById("progress-text");
    const tick = async () => {
      try {
        const b = await window.omr.json(one.dataset.progressUrl);
        bar.max = Math.max(1, b.total);
        bar.value = b.done;
        text.textContent = text.textContent.replace(/^\d+\/\d+/, `${b.done}/${b.total}`);
        if (!b.running) { window.location.reload(); return; }
      } catch (e) { /* a missed poll is retried */ }
      setTimeout(tick, 700);
    };
    setTimeout(tick, 300);
  }

  // the list of recent stacks: update the running ones
  const table = document.getElementById("batches");
  if (table) {
    const rows = Array.from(table.querySelectorAll("tr[data-running='1']"));
    if (!rows.length) return;
    const ids = rows.map((r) => r.dataset.batch).join(",");
    const url = `${window.location.pathname.replace(/\/$/, "")}/api/progress?ids=${ids}`;
    const tick = async () => {
      let running = false;
      try {
        const data = await window.omr.json(url);
        for (const b of data.batches) {
          const row = table.querySelector(`tr[data-batch='${b.id}']`);
          if (!row) continue;
          const bar = row.querySelector("progress");
          bar.max = Math.max(1, b.total);
          bar.value = b.done;
          row.querySelector(".progress-text").textContent = `${b.done}/${b.total}`;
          if (b.running) running = true; else row.querySelector(".status").textContent = "✓";
        }
      } catch (e) { running = true; }
      if (running) setTimeout(tick, 1000);
    };
    setTimeout(tick, 500);
  }
});
