// Unidentified pages and conflicts: the item this page shows is held for this reviewer; leaving the
// page (tab closed, another page) hands it back at once, so nobody else waits for it to go stale.
// A form submitted from the page decides the item first: releasing a decided item changes nothing.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const held = document.querySelector("[data-hold-item]");
  if (!held) return;
  window.addEventListener("pagehide", () => {
    const body = new URLSearchParams({ ids: held.dataset.holdItem, csrf_token: window.omr.csrf() });
    navigator.sendBeacon(held.dataset.releaseUrl, body);
  });
});
