// Shared by every page: CSRF on every change, errors shown as a toast, small form helpers.
"use strict";

(function () {
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)tt_csrf=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  let toastTimer = null;
  function toast(message, kind) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.className = kind || "error";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON */ }
    return "the server answered " + response.status;
  }

  // The JSON API, as the page's user: a failure becomes an Error carrying the server's message.
  async function api(method, url, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrfToken() };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (!response.ok) {
      const error = new Error(await errorText(response));
      error.status = response.status;
      throw error;
    }
    if (response.status === 204) return null;
    return response.json();
  }

  window.ThinkTank = { api: api, toast: toast, csrfToken: csrfToken };

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:responseError", async function (event) {
    const xhr = event.detail.xhr;
    let message = "the server answered " + xhr.status;
    try { message = JSON.parse(xhr.responseText).error.message || message; } catch (_) { /* HTML */ }
    toast(message);
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server cannot be reached. Check your connection and try again.");
  });

  function applyFilters(container) {
    const root = document.querySelector(container);
    if (!root) return;
    const search = document.querySelector('[data-filter="' + container + '"]');
    const category = document.querySelector('[data-filter-category="' + container + '"]');
    const words = search ? search.value.toLowerCase().trim().split(/\s+/).filter(Boolean) : [];
    const wanted = category ? category.value : "";
    root.querySelectorAll("[data-search]").forEach(function (item) {
      const text = item.getAttribute("data-search");
      const matches = words.every(function (w) { return text.indexOf(w) !== -1; }) &&
        (!wanted || item.getAttribute("data-category") === wanted);
      item.hidden = !matches;
    });
  }

  // A text box with a limit says how much of it is used, and says so plainly at the limit.
  function count(box) {
    const out = document.getElementById(box.getAttribute("data-count"));
    if (!out) return;
    const limit = Number(out.getAttribute("data-limit"));
    const used = box.value.length;
    out.textContent = used + " / " + limit + " characters" + (used >= limit ? " — the limit: anything longer is cut" : "");
    out.classList.toggle("warn", used >= limit * 0.9);
  }

  // Field errors swapped in out of band (the New form): mark their field invalid, or clear it.
  document.addEventListener("htmx:afterSettle", function (event) {
    document.querySelectorAll("[data-error-for]").forEach(function (slot) {
      const name = slot.getAttribute("data-error-for");
      const field = document.getElementById(name) || document.querySelector('[name="' + name + '"]');
      if (!field) return;
      const wrong = !slot.hidden && slot.textContent.trim() !== "";
      if (wrong) {
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-errormessage", slot.id);
      } else {
        field.removeAttribute("aria-invalid");
      }
    });
    const first = document.querySelector("[data-error-for]:not([hidden])");
    if (first && event.detail.target && event.detail.target.id === "form-errors") {
      first.scrollIntoView({ block: "center" });
    }
  });

  document.addEventListener("input", function (event) {
    const target = event.target;
    if (target.matches("[data-count]")) count(target);
    if (target.matches("[data-filter]")) applyFilters(target.getAttribute("data-filter"));
    if (target.matches("[data-output]")) {
      const out = document.getElementById(target.getAttribute("data-output"));
      if (out) out.textContent = target.value;
    }
  });
  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.matches("[data-filter-category]")) applyFilters(target.getAttribute("data-filter-category"));
    if (target.matches("[data-navigate]")) {
      window.location.href = target.getAttribute("data-navigate") + encodeURIComponent(target.value);
    }
  });
  document.addEventListener("click", function (event) {
    const opener = event.target.closest("[data-open-dialog]");
    if (opener) document.getElementById(opener.getAttribute("data-open-dialog")).showModal();
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });

  document.addEventListener("DOMContentLoaded", function () {
    const signin = document.getElementById("magic-link");
    if (signin) {
      signin.addEventListener("submit", async function (event) {
        event.preventDefault();
        const status = document.getElementById("magic-status");
        try {
          await api("POST", "/api/v1/auth/magic-link", { email: signin.email.value });
          status.textContent = "Check your inbox: the link signs you in for 15 minutes.";
        } catch (error) {
          status.textContent = error.message;
        }
      });
    }
  });
})();
