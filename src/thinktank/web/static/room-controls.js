// The room's controls: they follow the conversation's state (only what applies is enabled), the
// panel drawer on small screens, the members' menus, the what-if form, copy and continue.
"use strict";

(function () {
  const shared = window.ThinkTank.room;
  if (!shared) return;
  const api = window.ThinkTank.api;
  const toast = window.ThinkTank.toast;
  const room = shared.el;
  const base = shared.base;
  const act = shared.act;
  const refresh = shared.refresh;

  const buttons = {
    auto: room.querySelector('[data-run-mode="auto"]'),
    manual: room.querySelector('[data-run-mode="manual"]'),
    next: document.getElementById("next-turn"),
    pause: document.getElementById("pause"),
    resume: document.getElementById("resume"),
    stop: document.getElementById("stop"),
  };
  const speaker = document.getElementById("next-speaker");
  const continueForm = document.getElementById("continue-form");
  const interject = document.getElementById("interject");
  const box = document.getElementById("interjection");
  const hint = document.getElementById("next-hint");
  const ENDED = ["finished", "stopped"];

  function runMode() { return room.getAttribute("data-run-mode"); }

  // What each state allows; a control that does not apply is disabled, with a title saying why.
  function applyState() {
    const status = room.getAttribute("data-status");
    const mode = runMode();
    const deleted = status === "deleted";
    const ended = ENDED.indexOf(status) !== -1;
    const running = status === "running";
    const open = !deleted && !ended;
    const allowed = {
      auto: open && !running,
      manual: open && mode === "auto",
      next: open && !running && status !== "paused",
      pause: running,
      resume: status === "paused",
      stop: open,
    };
    Object.keys(buttons).forEach(function (name) { buttons[name].disabled = !allowed[name]; });
    buttons.auto.setAttribute("aria-pressed", String(mode === "auto"));
    buttons.manual.setAttribute("aria-pressed", String(mode !== "auto"));
    speaker.disabled = !allowed.next;
    // Ended, nothing in the row applies: it makes way for Continue (what does apply).
    document.getElementById("run-controls").hidden = deleted || ended;
    continueForm.hidden = deleted || !(ended || status === "paused");
    box.disabled = !open;
    interject.querySelector("button").disabled = !open;
    box.placeholder = open
      ? "Interject — you can do this while someone is speaking (Enter sends, Shift+Enter for a new line)"
      : deleted ? "This conversation was deleted." : "This discussion has ended: continue it to say more.";
    document.getElementById("deleted-notice").hidden = !deleted;
    room.querySelectorAll(".head-actions button, .head-actions a").forEach(function (el) {
      if (deleted) { el.setAttribute("aria-disabled", "true"); el.disabled = true; }
    });
    hint.textContent = deleted ? ""
      : room.getAttribute("data-fresh-fork") === "true" && status === "idle"
        ? "This fork starts here. Take the Next turn to hear one persona, or switch to Auto to let the panel run."
        : status === "idle" && mode !== "auto" ? "Your move: Next turn (pick a speaker or let the orchestrator decide), or Auto."
        : status === "paused" ? "Paused. Resume to carry on, or continue for more messages."
        : ended ? "This discussion has ended. Continue it for more messages, read the memo, or fork it from any message."
        : "";
  }
  room.addEventListener("room:state", applyState);
  applyState();

  buttons.auto.addEventListener("click", function () { setMode("auto"); });
  buttons.manual.addEventListener("click", function () { setMode("manual"); });
  function setMode(mode) {
    act(async function () {
      await api("PUT", base + "/mode", { mode: mode });
      room.setAttribute("data-run-mode", mode);
      room.setAttribute("data-fresh-fork", "false");
      applyState();
    });
  }

  const speed = document.getElementById("speed-control");
  speed.addEventListener("input", function () { document.getElementById("speed-value").textContent = speed.value; });
  speed.addEventListener("change", function () {
    act(function () { return api("PUT", base + "/speed", { speed: Number(speed.value) }); });
  });
  buttons.next.addEventListener("click", function () {
    const body = speaker.value ? { speaker: speaker.value } : {};
    buttons.next.disabled = true;  // one turn at a time; the state re-enables it
    room.setAttribute("data-fresh-fork", "false");
    act(async function () {
      await api("POST", base + "/turns", body);
      speaker.value = "";
    }).finally(applyState);
  });
  ["pause", "resume", "stop"].forEach(function (action) {
    buttons[action].addEventListener("click", function () {
      act(function () { return api("POST", base + "/" + action); });
    });
  });

  continueForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const more = Number(continueForm.messages.value);
    if (!(more >= 1 && more <= 1000)) { toast("Continue for 1 to 1000 more messages."); return; }
    const mode = continueForm.mode.value;
    act(async function () {
      await api("POST", base + "/continue", { messages: more, mode: mode });
      room.setAttribute("data-run-mode", mode);
      toast("Continuing for " + more + " more messages.", "ok");
      applyState();
    });
  });

  interject.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    act(async function () {
      await api("POST", base + "/messages", { text: text });
      box.value = "";
      shared.fetchNewer();
    });
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      interject.requestSubmit();
    }
  });

  // --- copy a message ---
  document.getElementById("messages").addEventListener("click", async function (event) {
    const copy = event.target.closest("[data-copy]");
    if (!copy) return;
    const text = copy.closest("article.msg").querySelector(".text").innerText;
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied.", "ok");
    } catch (_) {
      toast("The browser did not allow copying; select the text instead.");
    }
  });

  // --- the panel: a drawer below the header on small screens; Escape or ✕ closes it ---
  const sidebar = document.getElementById("sidebar");
  const toggle = document.querySelector(".sidebar-toggle");
  function setDrawer(open) {
    if (open) {
      // Below the header as it is laid out now, so the toggle that opened it stays in reach.
      room.style.setProperty("--drawer-top", Math.ceil(toggle.getBoundingClientRect().bottom + 4) + "px");
    }
    room.classList.toggle("sidebar-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      const close = sidebar.querySelector("[data-close-sidebar]");
      if (close) close.focus();
    } else if (sidebar.contains(document.activeElement)) {
      toggle.focus();
    }
  }
  toggle.addEventListener("click", function () { setDrawer(!room.classList.contains("sidebar-open")); });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const menu = sidebar.querySelector("details.menu[open]");
    if (menu) { menu.open = false; menu.querySelector("summary").focus(); return; }
    if (room.classList.contains("sidebar-open") && !document.querySelector("dialog[open]")) setDrawer(false);
  });

  // The sidebar is re-rendered on refresh, so its forms and buttons are handled by delegation.
  sidebar.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.id === "add-member") {
      event.preventDefault();
      act(async function () {
        await api("POST", base + "/members", { persona_id: form.persona_id.value });
        refresh("#sidebar");
      });
    } else if (form.hasAttribute("data-edit-member")) {
      event.preventDefault();
      const personaId = form.getAttribute("data-edit-member");
      const persona = Object.assign({}, shared.members()[personaId], { model: form.model.value, attitude: form.attitude.value });
      act(async function () {
        await api("PUT", base + "/members/" + encodeURIComponent(personaId), persona);
        refresh("#sidebar");
        toast(persona.name + " updated: later turns use the change.", "ok");
      });
    } else if (form.id === "rerun-form") {
      event.preventDefault();
      const change = form.change.value;
      const body = change === "seed" ? { seed: Number(form.seed.value) }
        : change === "scorer" ? { scorer: form.scorer.value }
        : { persona_models: { [form.persona.value]: form.model.value } };
      act(async function () {
        const rerun = await api("POST", base + "/rerun", body);
        window.location.href = "/compare/" + shared.id + "/" + rerun.id;
      });
    }
  });
  sidebar.addEventListener("change", function (event) {
    if (event.target.name !== "change") return;
    const wanted = event.target.value;
    sidebar.querySelectorAll("[data-rerun]").forEach(function (el) {
      el.hidden = el.getAttribute("data-rerun") !== wanted;
    });
  });
  sidebar.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-sidebar]")) { setDrawer(false); return; }
    const edit = event.target.closest("[data-edit-open]");
    if (edit) {
      const form = sidebar.querySelector('[data-edit-member="' + edit.getAttribute("data-edit-open") + '"]');
      edit.closest("details").open = false;
      form.hidden = false;
      form.querySelector("select").focus();
      return;
    }
    const cancel = event.target.closest("[data-edit-cancel]");
    if (cancel) { cancel.closest("form").hidden = true; return; }
    const remove = event.target.closest("[data-remove-member]");
    if (!remove) return;
    const personaId = remove.getAttribute("data-remove-member");
    const name = remove.getAttribute("data-name") || personaId;
    if (!window.confirm("Remove " + name + " from the panel? What they said stays in the transcript.")) return;
    act(async function () {
      await api("DELETE", base + "/members/" + encodeURIComponent(personaId));
      refresh("#sidebar");
      toast(name + " left the panel; the others carry on.", "ok");
    });
  });
})();
