// Upload page: live progress of stacks being read in the background (polled from the server).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // the transfer itself, with its progress: the form is sent by XMLHttpRequest (whose upload events
  // report bytes sent), and the page the server answers with (the batch, or the form with a message)
  // is then opened
  const form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const b = document.getElementById("upload-button");
      const box = document.getElementById("transfer");
      const bar = document.getElementById("transfer-progress");
      const text = document.getElementById("transfer-text");
      const T = box.dataset;
      b.disabled = true;
      b.classList.add("busy");
      box.hidden = false;
      const mb = (n) => (n / 1048576).toFixed(1);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Upload", "xhr");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        bar.max = e.total;
        bar.value = e.loaded;
        text.textContent = T.tSent.replace("{sent}", mb(e.loaded)).replace("{total}", mb(e.total));
      });
      xhr.upload.addEventListener("load", () => { bar.value = bar.max; text.textContent = T.tDone; });
      xhr.addEventListener("load", () => {
        if (xhr.status === 413) { text.textContent = T.tTooBig; b.disabled = false; return; }
        const to = xhr.response && xhr.response.location;
        if (!to) { text.textContent = T.tFailed; b.disabled = false; return; }
        window.location.assign(to);
      });
      xhr.addEventListener("error", () => { text.textContent = T.tFailed; b.disabled = false; });
      xhr.send(new FormData(form));
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
