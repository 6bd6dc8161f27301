// The conversation room: live events in, controls out. Finished messages are always rendered by the
// server (one template); this script only shows a message while it streams, then swaps in the real one.
"use strict";

(function () {
  const room = document.querySelector("[data-conversation]");
  if (!room) return;
  const api = window.ThinkTank.api;
  const toast = window.ThinkTank.toast;
  const id = room.getAttribute("data-conversation");
  const base = "/api/v1/conversations/" + id;
  const list = document.getElementById("messages");
  const connection = document.getElementById("connection");
  let lastEventId = room.getAttribute("data-since");
  let streaming = null;

  function lastIndex() {
    const items = list.querySelectorAll("article.msg[data-index]");
    return items.length ? Number(items[items.length - 1].getAttribute("data-index")) : -1;
  }
  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }
  function toBottom() { list.scrollTop = list.scrollHeight; }
  toBottom();

  function members() {
    const data = document.getElementById("members-data");
    return data ? JSON.parse(data.textContent) : {};
  }

  // Work that must not overlap itself: a call while it runs asks for one more run afterwards, so
  // nothing asked for is missed and an older answer never lands after a newer one. A run that
  // returns false (its request failed) ends it, asked-for reruns included.
  function oneAtATime(work) {
    let running = null;
    let again = false;
    return function () {
      if (running) { again = true; return running; }
      running = (async function () {
        do {
          again = false;
          if (await work() === false) break;
        } while (again);
      })().finally(function () { running = null; });
      return running;
    };
  }

  // The HTML at `url`, or null when the server cannot be reached (`unreachable` is called: the live
  // connection catches up when it is back) or answers with an error (a toast says so).
  async function fetchHtml(url, what, unreachable) {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin" });
    } catch (_) {
      if (unreachable) unreachable();
      return null;
    }
    if (response.status === 404) { markDeleted(); return null; }
    if (!response.ok) { toast("Could not " + what + " (" + response.status + ")"); return null; }
    return response.text();
  }

  // --- finished messages: fetched as HTML after the last one shown; duplicates are skipped ---
  const fetchNewer = oneAtATime(async function () {
    const html = await fetchHtml("/ui/c/" + id + "/newer?after=" + lastIndex(), "load new messages");
    if (html === null) return false;
    const stick = nearBottom();
    const holder = document.createElement("template");
    holder.innerHTML = html;
    holder.content.querySelectorAll("article.msg").forEach(function (article) {
      if (document.getElementById(article.id)) return;
      if (streaming && streaming.el.getAttribute("data-speaker") === article.getAttribute("data-speaker")) {
        streaming.el.remove();
        streaming = null;
      }
      list.insertBefore(article, streaming ? streaming.el : null);
      if (window.htmx) htmx.process(article);
    });
    if (stick) toBottom(); else showJump();
    return true;
  });

  // --- "jump to latest" while the reader is scrolled up ---
  const jump = document.getElementById("jump-latest");
  function showJump() { if (jump && !nearBottom()) jump.hidden = false; }
  if (jump) {
    jump.addEventListener("click", function () { toBottom(); jump.hidden = true; list.focus({ preventScroll: true }); });
    list.addEventListener("scroll", function () {
      if (nearBottom()) jump.hidden = true;
      else if (list.scrollHeight - list.scrollTop - list.clientHeight > list.clientHeight) jump.hidden = false;
    }, { passive: true });
  }

  // --- the memo a finished run writes: fetched until it is there (it takes a chair's reply) ---
  let memoWatch = null;
  function watchMemo() {
    if (memoWatch) return;
    let tries = 0;
    memoWatch = setInterval(function () {
      tries += 1;
      const pending = document.querySelector("#memo [data-memo-pending]");
      if ((!pending && tries > 1) || tries > 90 || deleted) { clearInterval(memoWatch); memoWatch = null; return; }
      refresh("#memo");
    }, 2000);
    refresh("#memo");
  }

  // --- a message while it streams ---
  function startStreaming(personaId, name, role) {
    if (streaming && streaming.personaId === personaId) return streaming;
    if (streaming) streaming.el.remove();
    const person = members()[personaId] || {};
    const avatar = person.avatar || { emoji: "💬", color: "#64748b" };
    const el = document.createElement("article");
    el.className = "msg streaming";
    el.setAttribute("data-speaker", personaId);
    el.setAttribute("aria-busy", "true");
    const face = document.createElement("span");
    face.className = "avatar";
    face.style.setProperty("--avatar", avatar.color);
    face.setAttribute("aria-hidden", "true");
    face.textContent = avatar.emoji;
    const body = document.createElement("div");
    body.className = "body";
    const head = document.createElement("header");
    const who = document.createElement("strong");
    who.className = "who";
    who.textContent = name || person.name || personaId;
    const what = document.createElement("span");
    what.className = "role";
    what.textContent = " " + (role || person.role || "");
    const typing = document.createElement("span");
    typing.className = "typing";
    typing.setAttribute("role", "status");
    typing.setAttribute("aria-label", (name || person.name || personaId) + " is thinking");
    typing.append(document.createElement("i"), document.createElement("i"), document.createElement("i"));
    head.append(who, what);
    const text = document.createElement("div");
    text.className = "text";
    // "waiting for openai… retrying (2/3)": the provider failed and is being asked again.
    const waiting = document.createElement("p");
    waiting.className = "small warn waiting";
    waiting.setAttribute("role", "status");
    waiting.hidden = true;
    body.append(head, typing, text, waiting);
    el.append(face, body);
    const stick = nearBottom();
    list.append(el);
    if (stick) toBottom();
    streaming = { personaId: personaId, el: el, text: text, typing: typing, waiting: waiting };
    return streaming;
  }

  function setNextUp(event) {
    const box = document.getElementById("next-up");
    if (!box) return;
    const d = event.decision;
    box.replaceChildren();
    const p = document.createElement("p");
    p.className = "small";
    const label = document.createElement("strong");
    label.textContent = "Speaking now: ";
    p.append(label, event.speaker_name + " — " + d.reason + " (confidence " + Number(d.confidence).toFixed(2) + ")");
    box.append(p);
  }

  // The room's state lives on its element (data-status, data-run-mode); whoever shows controls
  // listens for "room:state" and reads it from there.
  function setStatus(status, reason, stalled) {
    const badge = document.getElementById("status");
    badge.className = "badge status-" + status;
    badge.textContent = status + (reason ? ": " + reason : "");
    room.setAttribute("data-status", status);
    // Auto mode runs as "running"; leaving it (here or in another tab) says so in the reason.
    if (status === "running") room.setAttribute("data-run-mode", "auto");
    else if (reason === "switched to manual mode") room.setAttribute("data-run-mode", "manual");
    showStall(reason, stalled);
    room.dispatchEvent(new CustomEvent("room:state"));
  }

  // A run that stopped on its own (a stall, a provider's error, a budget) says why; the Continue
  // form (room-controls.js) is the way on.
  const stall = document.getElementById("stall");
  // The server says whether nobody asked for it (domain/vocabulary.py: stopped_on_its_own).
  function showStall(reason, stalled) {
    if (!stall) return;
    stall.hidden = !stalled;
    stall.querySelector("[data-stall-reason]").textContent = reason || "";
  }

  // Deleted elsewhere (the live stream says so, or an action answers 404): say it, stop offering
  // anything, stop listening.
  let deleted = false;
  function markDeleted() {
    if (deleted) return;
    deleted = true;
    if (source) source.close();
    connection.hidden = true;
    if (streaming) { streaming.el.remove(); streaming = null; }
    setStatus("deleted", "", false);
  }

  function money(value) {
    if (value === null || value === undefined) return "n/a";
    const n = Number(value);
    if (n !== 0 && Math.abs(n) < 0.0001) return "$" + n.toFixed(6);
    return "$" + n.toFixed(4);
  }

  function setCosts(totals) {
    const t = totals.total;
    const bar = document.getElementById("costbar");
    bar.querySelector('[data-cost="raw_usd"]').textContent = money(t.raw_usd);
    bar.querySelector('[data-cost="billed_usd"]').textContent = money(t.billed_usd);
    bar.querySelector('[data-cost="tokens"]').textContent = String(t.input_tokens + t.output_tokens);
    const credits = room.getAttribute("data-credits-left");
    if (credits !== "") {
      const spentHere = Number(t.billed_usd || 0) - Number(room.getAttribute("data-billed-at-load"));
      const left = Math.max(Number(credits) - spentHere, 0);
      bar.querySelector('[data-cost="budget"]').textContent = "$" + left.toFixed(2);
    }
  }

  // A panel (sidebar, memo) is re-rendered from its data-refresh URL, one request at a time per
  // panel. Fetched here rather than by htmx because htmx logs a console error for a request the
  // server could not answer, and while the server is down that is expected: the panel is marked
  // stale and re-fetched when the live connection is back.
  const refreshers = {};
  const stale = new Set();
  function refresh(selector) {
    if (!document.querySelector(selector)) return;
    if (!refreshers[selector]) {
      refreshers[selector] = oneAtATime(async function () {
        const el = document.querySelector(selector);
        const html = await fetchHtml(el.getAttribute("data-refresh"), "refresh the panel", function () {
          stale.add(selector);
        });
        if (html === null) return false;
        if (window.htmx) htmx.swap(el, html, { swapStyle: "innerHTML" });
        else el.innerHTML = html;
        return true;
      });
    }
    refreshers[selector]();
  }
  function refreshStale() {
    stale.forEach(function (selector) { refresh(selector); });
    stale.clear();
  }

  // --- live events; EventSource reconnects by itself with Last-Event-ID after a drop ---
  let source = null;
  function connect() {
    source = new EventSource(base + "/events?since=" + encodeURIComponent(lastEventId));
    const on = function (type, handler) {
      source.addEventListener(type, function (event) {
        if (event.lastEventId) lastEventId = event.lastEventId;
        if (event.data === undefined) return;
        handler(JSON.parse(event.data));
      });
    };
    source.onopen = function () {
      connection.hidden = true;
      fetchNewer();  // whatever finished while we were away
      refreshStale();
    };
    on("turn.decided", function (e) {
      setNextUp(e);
      startStreaming(e.decision.persona_id, e.speaker_name, e.speaker_role);
    });
    on("turn.retrying", function (e) {
      const s = startStreaming(e.persona_id);
      s.waiting.textContent = e.message;
      s.waiting.hidden = false;
    });
    on("token.delta", function (e) {
      const s = startStreaming(e.persona_id);
      const stick = nearBottom();
      s.waiting.hidden = true;
      if (s.typing) { s.typing.remove(); s.typing = null; }
      s.text.textContent += e.text;
      if (stick) toBottom(); else showJump();
    });
    on("message.completed", function () { fetchNewer(); refresh("#sidebar"); });
    on("costs.updated", function (e) { setCosts(e.totals); });
    on("members.changed", function () { refresh("#sidebar"); });
    on("state.changed", function (e) {
      setStatus(e.status, e.reason, e.stalled);
      if (streaming && e.status !== "running") { streaming.el.remove(); streaming = null; }
      if (e.status === "finished") watchMemo();
    });
    on("sync.required", function () { fetchNewer(); refresh("#sidebar"); });
    on("conversation.deleted", function () { markDeleted(); });
    on("error", function (e) { toast(e.message || "a persona could not answer"); });
    source.addEventListener("error", function (event) {
      if (event.data !== undefined) return;  // the server's own "error" events are handled above
      if (deleted) return;
      connection.hidden = false;
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, 2000);  // the browser gave up (an HTTP error): try again ourselves
      }
    });
  }
  connect();
  if (document.querySelector("#memo [data-memo-pending]")) watchMemo();
  window.addEventListener("pagehide", function () { if (source) source.close(); });

  // --- controls ---
  async function act(work) {
    if (deleted) return null;
    try { return await work(); } catch (error) {
      if (error.status === 404) markDeleted(); else toast(error.message);
      return null;
    }
  }

  // --- memo, citations, forks ---
  const memoDialog = document.getElementById("memo-dialog");
  memoDialog.addEventListener("submit", function (event) {
    if (event.target.id !== "memo-form") return;
    event.preventDefault();
    const button = event.target.querySelector("button[type=submit]");
    const chair = event.target.chair.value;
    button.disabled = true;
    button.textContent = "Writing…";
    act(async function () {
      await api("POST", base + "/memo", chair ? { chair: chair } : {});
      refresh("#memo");
    }).finally(function () { button.disabled = false; });
  });
  memoDialog.addEventListener("click", async function (event) {
    const cite = event.target.closest("[data-cite]");
    if (!cite) return;
    event.preventDefault();
    memoDialog.close();
    await showMessage(Number(cite.getAttribute("data-cite")));
  });

  async function showMessage(index) {
    let target = document.getElementById("m-" + index);
    if (!target) {
      // Load everything from that message up to what is shown, then jump.
      const older = list.querySelector(".older[hx-get]");
      const first = list.querySelector("article.msg[data-index]");
      if (older && first) {
        const before = Number(first.getAttribute("data-index"));
        const response = await fetch("/ui/c/" + id + "/older?before=" + before + "&down_to=" + index);
        if (response.ok) {
          const holder = document.createElement("template");
          holder.innerHTML = await response.text();
          older.replaceWith(holder.content);
          if (window.htmx) htmx.process(list);
        }
      }
      target = document.getElementById("m-" + index);
    }
    if (!target) { toast("Message #" + index + " is not in this conversation."); return; }
    target.scrollIntoView({ block: "center" });
    target.classList.add("highlight");
    setTimeout(function () { target.classList.remove("highlight"); }, 2000);
  }

  const forkDialog = document.getElementById("fork-dialog");
  const forkForm = document.getElementById("fork-form");
  list.addEventListener("click", function (event) {
    const fork = event.target.closest("[data-fork-at]");
    if (!fork) return;
    const at = fork.getAttribute("data-fork-at");
    forkForm.at_index.value = at;
    forkDialog.querySelector("[data-fork-label]").textContent = at;
    forkDialog.showModal();
  });
  forkForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const ids = Array.from(forkForm.querySelectorAll("input[name=persona_ids]:checked")).map(function (i) { return i.value; });
    const body = { at_index: Number(forkForm.at_index.value), persona_ids: ids, mode: forkForm.mode.value };
    if (forkForm.model.value) body.model = forkForm.model.value;
    act(async function () {
      const fork = await api("POST", base + "/fork", body);
      window.location.href = "/c/" + fork.id;
    });
  });
  window.ThinkTank.room = {
    el: room, id: id, base: base, act: act, refresh: refresh, fetchNewer: fetchNewer,
    members: members, markDeleted: markDeleted,
  };
})();
