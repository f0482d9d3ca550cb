// Small behaviours shared by every page. No inline script anywhere (Content-Security-Policy).
"use strict";

window.omr = {
  csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  },
  // fetch JSON; state-changing requests carry the CSRF token in a header
  async json(url, options = {}) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options);
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.method && opts.method !== "GET") {
      opts.headers["X-CSRFToken"] = window.omr.csrf();
      if (opts.body && typeof opts.body !== "string") {
        opts.body = JSON.stringify(opts.body);
        opts.headers["Content-Type"] = "application/json";
      }
    }
    const resp = await fetch(url, opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error((data && data.error) || resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return data;
  },
};

document.addEventListener("DOMContentLoaded", () => {
  // unit and form pickers apply at once
  document.querySelectorAll("select.autosubmit").forEach((sel) => {
    sel.addEventListener("change", () => sel.form.submit());
  });
  // a picker that changes what the rest of the form offers (the print page's unit: its usual form)
  document.querySelectorAll("select[data-reload-param]").forEach((sel) => {
    sel.addEventListener("change", () => {
      const u = new URL(window.location.href);
      u.searchParams.set(sel.dataset.reloadParam, sel.value);
      window.location.assign(u.toString());
    });
  });
});
