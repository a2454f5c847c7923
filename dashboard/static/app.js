// Flagpole dashboard: plain JavaScript, no build step, nothing loaded from
// elsewhere. The key lives in sessionStorage and goes out as a bearer
// header; live updates come over a Server-Sent Events stream read with
// fetch (EventSource cannot send a header).
"use strict";

const KEY = "flagpole.key";
const $ = (id) => document.getElementById(id);
const S = {
  key: sessionStorage.getItem(KEY) || "",
  me: null,
  breakers: new Map(), // "env/flag" -> breaker with history
  interval: 1000,
  stream: null,
  rerender: null,
};

// h builds an element: h("a", {href: "#"}, "text", child, [more]).
function h(tag, attrs, ...kids) {
  const el = document.createElementNS(tag === "svg" || SVG_TAGS.has(tag) ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  const add = (k) => {
    if (k === null || k === undefined || k === false) return;
    if (Array.isArray(k)) k.forEach(add);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  };
  kids.forEach(add);
  return el;
}
const SVG_TAGS = new Set(["path", "line", "rect", "text", "g", "title", "polyline"]);

class HTTPError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// api calls the server with the key; 401 and 403 sign out.
async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + S.key }, opts.headers || {});
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method: opts.method || "GET", headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new HTTPError(0, "network", "The server does not answer (" + e.message + "). Check that flagpole is running, then reload.");
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    const e = new HTTPError(resp.status, err.code || "", err.message || resp.statusText);
    if ((resp.status === 401 || resp.status === 403) && path.startsWith("/ui/api/")) signOut(e.message);
    throw e;
  }
  return data;
}

// ---- sign-in -------------------------------------------------------------

function signOut(message) {
  S.key = ""; S.me = null;
  sessionStorage.removeItem(KEY);
  if (S.stream) S.stream.abort();
  S.stream = null;
  $("nav").hidden = true; $("who").hidden = true;
  $("view").replaceChildren();
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("key").focus();
}

async function signIn(key) {
  S.key = key;
  try {
    S.me = await api("/ui/api/session");
  } catch (e) {
    if (e.status !== 401 && e.status !== 403) $("signin-error").textContent = e.message;
    return;
  }
  sessionStorage.setItem(KEY, key);
  $("signin").hidden = true;
  $("nav").hidden = false; $("who").hidden = false;
  $("who-name").textContent = S.me.name + " (" + S.me.kind + ")";
  connect();
  route();
}

// ---- the event stream ----------------------------------------------------

function setLive(on, text) {
  const el = $("live");
  el.className = "live " + (on ? "on" : "off");
  el.textContent = text;
}

// connect reads /ui/api/events and reconnects with a growing delay.
function connect() {
  if (S.stream) S.stream.abort();
  const ctl = new AbortController();
  S.stream = ctl;
  let delay = 1000;
  const run = async () => {
    while (!ctl.signal.aborted && S.key) {
      try {
        const resp = await fetch("/ui/api/events", { headers: { Authorization: "Bearer " + S.key, Accept: "text/event-stream" }, signal: ctl.signal, cache: "no-store", credentials: "omit" });
        if (resp.status === 401 || resp.status === 403) { signOut("The key was refused; sign in again."); return; }
        if (!resp.ok) {
          const body = await resp.json().catch(() => ({}));
          throw new Error((body.error && body.error.message) || resp.statusText);
        }
        setLive(true, "live");
        delay = 1000;
        await readEvents(resp.body, ctl.signal);
        setLive(false, "reconnecting…");
      } catch (e) {
        if (ctl.signal.aborted) return;
        setLive(false, "offline: " + e.message + "; retrying");
      }
      await new Promise((r) => setTimeout(r, delay + Math.random() * 500));
      delay = Math.min(delay * 2, 30000);
      if (!ctl.signal.aborted) S.rerender && S.rerender(); // resync what the page shows
    }
  };
  run();
}

async function readEvents(body, signal) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

let changeTimer = null;
function onEvent(name, data) {
  switch (name) {
    case "hello":
      S.interval = data.interval_ms || 1000;
      break;
    case "breakers":
      for (const b of data.breakers) {
        const k = b.environment + "/" + b.flag;
        const old = S.breakers.get(k);
        const hist = old ? old.history : [];
        hist.push({ t: data.at, e: b.error_rate, s: b.slow_rate, n: b.counts.success + b.counts.failure, st: b.state, c: b.recovery_cap });
        while (hist.length > 300) hist.shift();
        b.history = hist;
        // Events carry the last trip only: keep the list the view loaded.
        b.trips = old && old.trips ? old.trips.slice() : [];
        if (b.last_trip && !b.trips.some((t) => Date.parse(t) === Date.parse(b.last_trip))) b.trips.unshift(b.last_trip);
        S.breakers.set(k, b);
      }
      if (S.shownActive !== undefined && document.querySelector('[data-view="breakers"]') && activeKeys() !== S.shownActive) {
        S.shownActive = activeKeys();
        S.rerender && S.rerender(true); // a breaker became busy or idle
      }
      document.querySelectorAll("[data-breaker]").forEach((el) => {
        const b = S.breakers.get(el.dataset.breaker);
        if (b) el.replaceWith(breakerCard(b, el.dataset.compact === "1"));
      });
      break;
    case "sync":
      if (!document.querySelector('[data-view="sync"]')) break;
      // fall through: the sync view reloads
    case "change":
      // Reload what the page shows, once for a burst of changes.
      clearTimeout(changeTimer);
      changeTimer = setTimeout(() => S.rerender && S.rerender(true), 150);
      break;
  }
}

// ---- routing -------------------------------------------------------------

function route() {
  if (!S.me) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const view = parts[0] || "flags";
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.dataset.view === (view === "flag" ? "flags" : view)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const views = { flags: viewFlags, flag: () => viewFlag(parts[1], parts[2]), breakers: viewBreakers, audiences: viewAudiences, sync: viewSync };
  // #/audiences/<env>/<key> shows the audience's row.
  S.target = view === "audiences" && parts[2] ? "aud-" + parts[1] + "-" + parts[2] : null;
  const fn = views[view] || viewFlags;
  S.rerender = (quiet) => show(fn, quiet);
  show(fn, false);
}

// show renders a view: a loading state first (unless quiet), then the view
// or an error that says what to do.
async function show(fn, quiet) {
  const view = $("view");
  if (!quiet) view.replaceChildren(h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    const el = await fn();
    if (el) {
      // Keep the focus and the form values of a view redrawn by a live update.
      const active = document.activeElement && document.activeElement.id;
      const keep = quiet ? saveInputs(view) : null;
      view.replaceChildren(el);
      if (!quiet && S.target && $(S.target)) {
        $(S.target).classList.add("target");
        $(S.target).scrollIntoView({ block: "center" });
      }
      if (!S.painted) {
        S.painted = true;
        performance.mark("flagpole:first-view"); // first useful paint: measured in BENCHMARKS.md
      }
      if (keep) restoreInputs(view, keep);
      if (active && quiet && $(active)) $(active).focus();
    }
  } catch (e) {
    if (!S.key) return;
    view.replaceChildren(h("div", { class: "card", role: "alert" }, h("h2", {}, "Could not load this view"),
      h("p", { class: "error" }, e.message),
      h("p", {}, e.status === 503 ? "The server has no rule set loaded yet, or its store is down: see the Sync view; this page reloads when the server sends a change." : "Check the address and your key, then ", e.status === 503 ? null : h("button", { type: "button", onclick: () => show(fn, false) }, "try again"))));
  }
}

function saveInputs(root) {
  const out = {};
  root.querySelectorAll("input[id], select[id], textarea[id]").forEach((el) => { out[el.id] = el.type === "checkbox" ? el.checked : el.value; });
  return out;
}
function restoreInputs(root, vals) {
  for (const [id, v] of Object.entries(vals)) {
    const el = root.querySelector("#" + CSS.escape(id));
    if (!el) continue;
    if (el.type === "checkbox") el.checked = v; else el.value = v;
  }
}

// ---- helpers -------------------------------------------------------------

const fmtTime = (t) => (t ? new Date(t).toLocaleString() : "");
const pct = (f) => (Math.round(f * 10) / 10) + "%";
const flagLink = (env, key, text) => h("a", { href: "#/flag/" + encodeURIComponent(env) + "/" + encodeURIComponent(key) }, text || key);

function stateText(b) {
  switch (b.state) {
    case "open": return "open" + (b.next_step ? ", recovery starts at " + new Date(b.next_step).toLocaleTimeString() : "");
    case "recovering": return "recovering " + pct(b.recovery_cap) + (b.next_step ? ", next step at " + new Date(b.next_step).toLocaleTimeString() : "");
    case "disabled": return "disabled in git";
  }
  return b.crossing ? "closed, over the threshold" : "closed";
}
const stateClass = (s) => (s === "open" ? "bad" : s === "recovering" ? "warn" : s === "closed" ? "ok" : "");

// ---- Flags ---------------------------------------------------------------

const MAX_ROWS = 500;

async function viewFlags() {
  const data = await api("/ui/api/flags");
  const envs = data.environments;
  const owners = [...new Set(data.flags.map((f) => f.owner).filter(Boolean))].sort();
  const search = h("input", { id: "f-search", type: "search", placeholder: "key, name or description" });
  const owner = h("select", { id: "f-owner" }, h("option", { value: "" }, "any owner"), owners.map((o) => h("option", { value: o }, o)));
  const kinds = [...new Set(data.flags.map((f) => f.kind).filter(Boolean))].sort();
  const kind = h("select", { id: "f-kind" }, h("option", { value: "" }, "any kind"), kinds.map((k) => h("option", { value: k }, k)));
  const stale = h("input", { id: "f-stale", type: "checkbox" });
  const over = h("input", { id: "f-over", type: "checkbox" });
  const trip = h("input", { id: "f-trip", type: "checkbox" });
  const tbody = h("tbody");
  const count = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const draw = () => {
    const q = search.value.toLowerCase();
    const rows = data.flags.filter((f) => {
      const es = Object.values(f.environments);
      return (!q || [f.key, f.name, f.description].some((s) => s && s.toLowerCase().includes(q))) &&
        (!owner.value || f.owner === owner.value) &&
        (!kind.value || f.kind === kind.value) &&
        (!stale.checked || f.stale) &&
        (!over.checked || es.some((e) => e.override)) &&
        (!trip.checked || es.some((e) => e.breaker === "open" || e.breaker === "recovering"));
    });
    // A large repository draws its first rows only: the search narrows it.
    const shown = rows.slice(0, MAX_ROWS);
    count.textContent = rows.length + " of " + data.flags.length + " flags" + (shown.length < rows.length ? "; showing the first " + MAX_ROWS + ": search or filter to see the others" : "");
    tbody.replaceChildren(...shown.map((f) => h("tr", { "data-flag": f.key },
      h("td", {}, flagLink(envs.find((e) => f.environments[e]) || envs[0], f.key), f.name ? h("div", { class: "muted" }, f.name) : null),
      h("td", {}, f.owner || h("span", { class: "muted" }, "none")),
      h("td", {}, f.kind || h("span", { class: "muted" }, "—"), h("div", { class: "muted" }, f.type), f.client ? h("span", { class: "chip" }, "client") : null,
        f.stale ? h("span", { class: "chip warn" }, f.stale) : f.expires ? h("div", { class: "muted" }, "expires " + f.expires) : null),
      envs.map((env) => {
        const e = f.environments[env];
        if (!e) return h("td", { class: "muted" }, "absent");
        return h("td", { "data-env": env },
          e.override ? h("span", { class: "chip bad", title: e.override.reason || "" }, "override: " + e.override.serve) : null,
          e.breaker && e.breaker !== "closed" ? h("span", { class: "chip " + stateClass(e.breaker) }, "breaker " + e.breaker) : null,
          h("div", {}, flagLink(env, f.key, e.summary)));
      }))));
  };
  [search, owner, kind, stale, over, trip].forEach((el) => el.addEventListener("input", draw));
  draw();
  return h("section", { "aria-labelledby": "flags-title" },
    h("h2", { id: "flags-title" }, "Flags"),
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: "f-search" }, "Search"), search),
      h("div", {}, h("label", { for: "f-owner" }, "Owner"), owner),
      h("div", {}, h("label", { for: "f-kind" }, "Kind"), kind),
      h("label", { class: "check" }, stale, "stale (expired)"),
      h("label", { class: "check" }, over, "overridden"),
      h("label", { class: "check" }, trip, "tripped (breaker open or recovering)")),
    count,
    h("div", { class: "scroll" }, h("table", {},
      h("caption", { class: "muted", style: null }, "Each flag in every environment (versions " + Object.entries(data.versions).map(([e, v]) => e + " " + v).join(", ") + ")"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Flag"), h("th", { scope: "col" }, "Owner"), h("th", { scope: "col" }, "Kind, type"), envs.map((e) => h("th", { scope: "col" }, e)))),
      tbody)));
}

// ---- one flag ------------------------------------------------------------

async function viewFlag(env, key) {
  const d = await api("/ui/api/flags/" + encodeURIComponent(env) + "/" + encodeURIComponent(key));
  const f = d.flag;
  if (d.breaker) S.breakers.set(env + "/" + key, mergeHistory(d.breaker));
  return h("section", { "aria-labelledby": "flag-title" },
    h("p", {}, h("a", { href: "#/flags" }, "← all flags")),
    h("h2", { id: "flag-title" }, f.key, f.name ? h("span", { class: "muted" }, " · " + f.name) : null),
    f.description ? h("p", {}, f.description) : null,
    h("div", { class: "tabs", role: "group", "aria-label": "Environment" }, S.me.environments.map((e) =>
      e === env ? h("span", { class: "chip", "aria-current": "page" }, e) : h("a", { class: "chip", href: "#/flag/" + encodeURIComponent(e) + "/" + encodeURIComponent(key) }, e))),
    h("div", { class: "two" },
      h("div", {}, servedCard(d), killCard(d)),
      h("div", {}, d.breaker ? breakerCard(S.breakers.get(env + "/" + key), false) : null, tryCard(d))),
    rulesCard(d),
    audiencesCard(d),
    historyCard(d));
}

function servedCard(d) {
  const f = d.flag, o = d.override;
  return h("div", { class: "card", id: "served" },
    h("h3", {}, "Served now in " + d.environment),
    o ? h("p", { "data-override": o.serve }, h("span", { class: "chip bad" }, "override"), " ", d.words.override,
      o.recovery ? h("div", {}, "Recovery cap now: " + pct(capAt(o.recovery, new Date(d.now)))) : null,
      h("div", {}, "Why: " + (o.reason || "(no reason)")),
      h("div", { class: "muted" }, d.override_source === "layer" ? "Set at runtime; the write-back is committing it to git." : "From git (overrides/" + d.environment + "/" + f.key + ".yaml)."))
      : h("p", {}, "No override."),
    h("p", {}, f.enabled ? "Enabled: the rules below, " + d.words.lines[d.words.lines.length - 1] + "." : "Disabled: everyone gets " + f.off + "."),
    d.words.stale ? h("p", {}, h("span", { class: "chip warn" }, d.words.stale)) : null,
    h("p", { class: "muted" }, "Owner " + (f.owner || "none") + (f.kind ? " · kind " + f.kind : "") + " · type " + f.type + (f.client ? " · visible to client keys" : "") + (f.expires ? " · expires " + f.expires : "") +
      " · version " + d.version));
}

function capAt(rec, now) {
  const start = new Date(rec.start_at);
  if (now < start) return 0;
  const every = parseDur(rec.every);
  const steps = every > 0 ? Math.floor((now - start) / every) : 0;
  return Math.min(100, rec.start + rec.step * steps);
}
function parseDur(s) {
  let ms = 0;
  for (const [, n, u] of String(s).matchAll(/([\d.]+)(ms|h|m|s)/g)) ms += parseFloat(n) * { h: 3600e3, m: 60e3, s: 1e3, ms: 1 }[u];
  return ms;
}

function killCard(d) {
  if (!S.me.admin_environments.includes(d.environment)) return null;
  const f = d.flag;
  const msg = h("p", { role: "status", "aria-live": "polite", id: "kill-msg" });
  const variant = h("select", { id: "k-variant" }, f.variants.map((v) => h("option", { value: v.name, selected: v.name === f.off }, v.name + (v.name === f.off ? " (off)" : ""))));
  const dur = h("select", { id: "k-for" }, [["15m", "15 minutes"], ["1h", "1 hour"], ["4h", "4 hours"], ["24h", "24 hours"], ["", "until cleared"]].map(([v, t]) => h("option", { value: v, selected: v === "1h" }, t)));
  const reason = h("input", { id: "k-reason", required: true, maxlength: 1000, placeholder: "what happened" });
  const path = "/v1/admin/overrides/" + encodeURIComponent(d.environment) + "/" + encodeURIComponent(f.key);
  const send = async (ev, method, body) => {
    ev.preventDefault();
    if (!reason.value.trim()) { msg.textContent = "Say why: the reason goes into the git commit."; reason.focus(); return; }
    const btns = ev.target.closest(".card").querySelectorAll("button");
    btns.forEach((b) => (b.disabled = true));
    try {
      const r = await api(path, { method, body });
      msg.textContent = (method === "PUT" ? "Override set" : "Override cleared") + " (version " + (r.version || "?") + "); write-back: " + (r.writeback || "pending") + ". It is committed to git; this page updates when it lands.";
      reason.value = "";
    } catch (e) {
      msg.textContent = "Refused: " + e.message + (e.code === "not_leader" ? " (send it to the leader)" : "");
    } finally {
      btns.forEach((b) => (b.disabled = false));
    }
  };
  const setBody = () => {
    const b = { reason: reason.value.trim() };
    if (variant.value === f.off) b.off = true; else b.serve = variant.value;
    if (dur.value) b.for = dur.value;
    return b;
  };
  return h("form", { class: "card", id: "kill", "aria-labelledby": "kill-title", onsubmit: (ev) => send(ev, "PUT", setBody()) },
    h("h3", { id: "kill-title" }, "Kill switch (" + d.environment + ")"),
    h("p", { class: "muted" }, "Takes effect at every SDK within a second and is committed to git as overrides/" + d.environment + "/" + f.key + ".yaml, like flagpole override."),
    h("label", { for: "k-variant" }, "Serve"), variant,
    h("label", { for: "k-for" }, "For"), dur,
    h("label", { for: "k-reason" }, "Reason"), reason,
    h("button", { type: "submit", class: "danger", id: "k-set" }, "Set the override"),
    " ",
    d.override ? h("button", { type: "button", id: "k-clear", onclick: (ev) => send(ev, "DELETE", { reason: reason.value.trim() }) }, "Clear the override") : null,
    msg);
}


function rulesCard(d) {
  const f = d.flag, w = d.words;
  return h("div", { class: "card", id: "rules" },
    h("h3", {}, "Rules, first match wins"),
    w.requires && w.requires.length ? h("p", {}, "Requires: " + w.requires.join("; ") + ", else everyone gets " + f.off + ".") : null,
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Rule"), h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Gets"))),
      h("tbody", {}, w.rules.map((r, i) => h("tr", { "data-rule": i }, h("td", {}, r.label), h("td", {}, r.who, ruleAudiences(f.rules[i], d.environment)),
        h("td", {}, r.does, r.ramp && r.ramp.next_step ? h("div", { class: "muted" }, "next step at " + fmtTime(r.ramp.next_step)) : null))),
        h("tr", {}, h("td", {}, ""), h("td", {}, "anyone else"), h("td", {}, w.lines[w.lines.length - 1]))))),
    w.schedule && w.schedule.length ? [h("h3", {}, "Schedule"), h("ul", {}, w.schedule.map((st) => h("li", {},
      fmtTime(st.at) + ": " + st.text, st.in_force ? h("span", { class: "chip warn" }, "in force now") : st.past ? h("span", { class: "muted" }, " (past)") : h("span", { class: "muted" }, " (to come)"))))] : null,
    h("p", { class: "muted" }, "Variants: " + f.variants.map((v) => v.name + " = " + JSON.stringify(v.value)).join(", ") + "; off variant " + f.off + "."));
}

const audLink = (env, key) => h("a", { href: "#/audiences/" + encodeURIComponent(env) + "/" + encodeURIComponent(key) }, key);

function ruleAudiences(r, env) {
  if (!r || !r.audiences || !r.audiences.length) return null;
  return h("div", { class: "muted" }, "audiences: ", r.audiences.map((a, i) => [i ? ", " : "", audLink(env, a)]));
}

function audiencesCard(d) {
  const names = Object.keys(d.audiences).sort();
  if (!names.length) return null;
  return h("div", { class: "card" }, h("h3", {}, "Audiences it uses"),
    h("ul", {}, names.map((n) => { const a = d.audiences[n]; return h("li", {}, h("strong", {}, a.name || n), " (", audLink(d.environment, n), "): ", d.audience_words[n]); })));
}

function tryCard(d) {
  // The last answer survives a redraw by a live update.
  const tryKey = d.environment + "/" + d.flag.key;
  const last = S.tryOut && S.tryOut.key === tryKey ? S.tryOut.text : "";
  const out = h("pre", { id: "try-out", "aria-live": "polite", hidden: !last }, last);
  const ctx = h("textarea", { id: "try-ctx", spellcheck: "false" }, '{"key": "user-1"}');
  const msg = h("p", { class: "error", role: "alert" });
  return h("form", { class: "card", "aria-labelledby": "try-title", onsubmit: async (ev) => {
    ev.preventDefault();
    msg.textContent = "";
    let context;
    try { context = JSON.parse(ctx.value); } catch (e) { msg.textContent = "The context is not JSON: " + e.message; return; }
    try {
      const r = await api("/ui/api/flags/" + encodeURIComponent(d.environment) + "/" + encodeURIComponent(d.flag.key) + "/evaluate", { method: "POST", body: { context } });
      out.textContent = r.trace;
      out.hidden = false;
      S.tryOut = { key: tryKey, text: r.trace };
    } catch (e) { msg.textContent = e.message; }
  } },
  h("h3", { id: "try-title" }, "Try a context"),
  h("label", { for: "try-ctx" }, "Context (JSON)"), ctx,
  h("button", { type: "submit" }, "Evaluate"), msg, out);
}

function historyCard(d) {
  if (d.history_error) return h("div", { class: "card" }, h("h3", {}, "History"), h("p", { class: "error" }, d.history_error));
  if (!d.history) return h("div", { class: "card" }, h("h3", {}, "History"), h("p", { class: "muted" }, "This server does not read the repository's git history (it is not a local git repository)."));
  const hist = d.history;
  return h("div", { class: "card", id: "history" }, h("h3", {}, "History of its files"),
    hist.commits.length ? h("ul", {}, hist.commits.map((c) => h("li", { "data-commit": c.hash },
      c.url ? h("a", { href: c.url, rel: "noreferrer noopener", target: "_blank" }, c.hash.slice(0, 10)) : h("code", {}, c.hash.slice(0, 10)),
      " " + c.subject + " — " + c.author + ", " + fmtTime(c.when), h("span", { class: "muted" }, " (" + c.paths.join(", ") + ")"))))
      : h("p", { class: "muted" }, "No commit changed its files."),
    hist.truncated ? h("p", { class: "muted" }, "Older commits not searched.") : null);
}

// ---- Breakers ------------------------------------------------------------

function mergeHistory(b) {
  const k = b.environment + "/" + b.flag;
  const old = S.breakers.get(k);
  if (old && old.history && old.history.length > (b.history || []).length) b.history = old.history;
  return b;
}

// active says whether a breaker has something to show: calls in its
// window, a trip, or a state other than closed.
const active = (b) => b.state !== "closed" || b.crossing || b.counts.success + b.counts.failure > 0 || b.trips_24h > 0;
const activeKeys = () => [...S.breakers.values()].filter(active).map((b) => b.environment + "/" + b.flag).sort().join(" ");

async function viewBreakers() {
  const data = await api("/ui/api/breakers");
  data.breakers.forEach((b) => S.breakers.set(b.environment + "/" + b.flag, b));
  S.shownActive = activeKeys();
  if (!data.breakers.length) return h("section", {}, h("h2", {}, "Breakers"), h("p", {}, "No flag has a breaker block, or none has been sampled yet. Add breaker: to a flag or to flagpole.yaml (docs/breaker.md)."));
  const busy = data.breakers.filter(active), idle = data.breakers.filter((b) => !active(b));
  return h("section", { "aria-labelledby": "br-title", "data-view": "breakers" }, h("h2", { id: "br-title" }, "Breakers"),
    h("p", { class: "legend" }, h("span", { class: "l-err" }, "error rate"), h("span", { class: "l-slow" }, "slow rate"), h("span", { class: "l-thr" }, "threshold"), "shaded: open"),
    busy.length ? h("div", { class: "grid" }, busy.map((b) => breakerCard(b, true))) : h("p", {}, "No breaker has calls in its window: no SDK reports outcomes for a flag (client.Record or sdk.Guard), or nothing runs them now."),
    idle.length ? [h("h3", {}, "Idle: closed, no calls in the window"), h("p", {}, idle.map((b, i) => [i ? ", " : "", flagLink(b.environment, b.flag, b.flag + " (" + b.environment + ")")]))] : null);
}

function breakerCard(b, compact) {
  const k = b.environment + "/" + b.flag;
  const n = b.counts.success + b.counts.failure;
  return h("article", { class: "card", "data-breaker": k, "data-compact": compact ? "1" : "0", "data-state": b.state, "aria-label": "breaker of " + b.flag + " in " + b.environment },
    h("h3", {}, compact ? flagLink(b.environment, b.flag) : "Breaker", " ", h("span", { class: "muted" }, b.environment), " ",
      h("span", { class: "chip " + stateClass(b.state), "data-testid": "state" }, stateText(b))),
    chart(b),
    h("dl", { class: "figures" },
      h("div", {}, h("dt", {}, "error rate / threshold"), h("dd", { "data-testid": "error-rate" }, pct(b.error_rate) + " / " + pct(b.threshold))),
      b.slow_threshold ? h("div", {}, h("dt", {}, "slow (≥ " + b.slow_duration + ") / threshold"), h("dd", {}, pct(b.slow_rate) + " / " + pct(b.slow_threshold))) : null,
      h("div", {}, h("dt", {}, "calls in " + b.window), h("dd", { "data-testid": "calls" }, n + " (" + b.counts.failure + " failed; min " + b.min_requests + ")")),
      h("div", {}, h("dt", {}, "trips in 24 h"), h("dd", { "data-testid": "trips" }, String(b.trips_24h) + (b.last_trip ? ", last " + new Date(b.last_trip).toLocaleTimeString() : "")))),
    b.reason ? h("p", { class: "muted" }, b.reason) : b.note ? h("p", { class: "muted" }, b.note) : null,
    !compact && b.trips && b.trips.length ? h("details", {}, h("summary", {}, "Trips in the last 24 h"), h("ul", {}, b.trips.map((t) => h("li", {}, fmtTime(t))))) : null);
}

// chart draws the window's error and slow rates against the threshold as
// SVG, with the open periods shaded.
function chart(b) {
  const W = 600, H = 170, L = 34, R = 8, T = 8, B = 18;
  const hist = b.history || [];
  const top = Math.max(5, b.threshold * 1.5, b.slow_threshold || 0, ...hist.map((p) => Math.max(p.e, p.s)));
  const yMax = Math.ceil(top / 5) * 5;
  const now = hist.length ? hist[hist.length - 1].t : Date.now();
  const span = Math.max(30e3, (hist.length ? now - hist[0].t : 0));
  const x = (t) => L + (W - L - R) * (1 - (now - t) / span);
  const y = (v) => T + (H - T - B) * (1 - Math.min(v, yMax) / yMax);
  const line = (key) => hist.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p[key]).toFixed(1)).join(" ");
  const shade = [];
  let from = null;
  hist.forEach((p, i) => {
    const open = p.st === "open";
    if (open && from === null) from = p.t;
    if ((!open || i === hist.length - 1) && from !== null) {
      shade.push(h("rect", { class: "open", x: x(from), y: T, width: Math.max(2, x(p.t) - x(from)), height: H - T - B }));
      from = null;
    }
  });
  const last = hist[hist.length - 1];
  return h("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "error rate " + (last ? pct(last.e) : "no data") + " against a threshold of " + pct(b.threshold) + " over the last " + Math.round(span / 1000) + " seconds" },
    h("title", {}, b.flag + " error rate"),
    shade,
    h("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
    h("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    h("text", { x: 2, y: T + 10 }, yMax + "%"),
    h("text", { x: 2, y: H - B }, "0%"),
    h("text", { x: L, y: H - 4 }, "-" + Math.round(span / 1000) + "s"),
    h("text", { x: W - R - 24, y: H - 4 }, "now"),
    h("line", { class: "thr", x1: L, x2: W - R, y1: y(b.threshold), y2: y(b.threshold) }),
    b.slow_threshold ? h("line", { class: "thr", x1: L, x2: W - R, y1: y(b.slow_threshold), y2: y(b.slow_threshold), opacity: 0.5 }) : null,
    hist.length > 1 ? h("path", { class: "slow", d: line("s") }) : null,
    hist.length > 1 ? h("path", { class: "err", d: line("e"), "data-points": hist.length }) : null);
}

// ---- Audiences and attributes -------------------------------------------

async function viewAudiences() {
  const d = await api("/ui/api/audiences");
  return h("section", { "aria-labelledby": "aud-title" }, h("h2", { id: "aud-title" }, "Audiences"),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Audience"), h("th", { scope: "col" }, "Environment"), h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Used by"))),
      h("tbody", {}, d.audiences.map((a) => h("tr", { id: "aud-" + a.environment + "-" + a.audience.key },
        h("td", {}, h("strong", {}, a.audience.name || a.audience.key), h("div", { class: "muted" }, a.audience.key)),
        h("td", {}, a.environment),
        h("td", {}, a.words),
        h("td", {}, a.used_by.length ? a.used_by.map((k, i) => [i ? ", " : "", flagLink(a.environment, k)]) : h("span", { class: "muted" }, "no flag"))))))),
    h("h2", {}, "Attributes"),
    h("p", { class: "muted" }, "Attributes that conditions test (key and now are built in)."),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Attribute"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Tested by"))),
      h("tbody", {}, d.attributes.map((a) => h("tr", {}, h("td", {}, a.name), h("td", {}, a.type), h("td", {}, a.used_by.map((u) => u.replace(/^flag:/, "flag ")).join(", "))))))));
}

// ---- Sync ----------------------------------------------------------------

async function viewSync() {
  const d = await api("/ui/api/sync");
  const st = d.status || {};
  const err = st.last_error;
  const envs = Object.entries(st.environments || {}).sort();
  const overrides = d.overrides || {};
  const pending = (d.writeback && d.writeback.pending) || [];
  return h("section", { "aria-labelledby": "sync-title", "data-view": "sync" }, h("h2", { id: "sync-title" }, "Sync"),
    d.status_error ? h("p", { class: "error" }, d.status_error) : null,
    h("div", { class: "card" },
      h("p", {}, "Source ", h("code", {}, st.source || "?"), st.branch ? [" branch ", h("code", {}, st.branch)] : null),
      h("p", {}, "Last commit seen ", h("code", {}, (st.commit || "none").slice(0, 12)), ", published ", h("code", {}, (st.published || "none").slice(0, 12)), ", last sync " + fmtTime(st.last_sync)),
      h("p", {}, "Open dashboard streams on this server: ", h("strong", { id: "streams" }, String(d.streams))),
      d.sdk_streams ? h("p", {}, "SDK streams on this server's bearer: ", Object.entries(d.sdk_streams).sort().map(([e, n], i) => [i ? ", " : "", e + " ", h("strong", {}, String(n))]))
        : h("p", { class: "muted" }, "This process runs no bearer: the bearers below count their own streams.")),
    bearersCard(d),
    h("div", { class: "card", role: err ? "alert" : null },
      h("h3", {}, "Last error"),
      err ? [h("p", { class: "error" }, err.message), err.commit ? h("p", {}, "in commit ", h("code", {}, err.commit.slice(0, 12)), " at " + fmtTime(err.at)) : null,
        h("ul", {}, (err.problems || []).map((p) => h("li", {}, h("code", {}, p)))),
        err.problem_count > (err.problems || []).length ? h("p", { class: "muted" }, err.problem_count + " problems in all") : null,
        h("p", { class: "muted" }, "The last good rule set keeps serving; fix the file and push.")]
        : h("p", {}, "None: the last commit was published.")),
    h("div", { class: "card" }, h("h3", {}, "Environments"),
      h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Environment", "Version", "Commit", "Published", "Overrides"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, envs.map(([e, s]) => h("tr", {}, h("td", {}, e), h("td", {}, h("code", {}, s.version)), h("td", {}, h("code", {}, (s.commit || "").slice(0, 12))), h("td", {}, fmtTime(s.published)),
          h("td", {}, (overrides[e] || []).map((o) => h("div", {}, flagLink(e, o.flag), " → " + o.serve + " by " + (o.by || "?") + " (" + o.source + ")"))))))))),
    h("div", { class: "card" }, h("h3", {}, "Pending write-backs"),
      pending.length ? h("ul", {}, pending.map((p) => h("li", {}, flagLink(p.environment, p.flag, p.environment + "/" + p.flag), " " + p.action + " since " + fmtTime(p.since) + ", " + p.attempts + " attempts" + (p.last_error ? "; last error: " + p.last_error : "")))) : h("p", {}, d.writeback ? "None: git holds every override." : "This process does not write back (not the leader).")));
}

// bearersCard is the table of the bearers connected to the store: each
// bearer's rule-set version and open SSE streams per environment, and how
// long ago its last heartbeat was (by the server's clock, d.now).
function bearersCard(d) {
  const list = d.bearers || [];
  const now = d.now ? new Date(d.now).getTime() : Date.now();
  const age = (t) => Math.max(0, Math.round((now - new Date(t).getTime()) / 1000)) + " s ago";
  const streams = (s) => (s.sdk + s.evaluated + s.ofrep) + " (" + s.sdk + " SDK, " + s.evaluated + " evaluated, " + s.ofrep + " OFREP)";
  return h("div", { class: "card", "data-bearers": String(list.length) }, h("h3", {}, "Bearers connected (from the store)"),
    d.bearers_error ? h("p", { class: "error" }, d.bearers_error) : null,
    list.length ? h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Bearer", "Address", "Binary", "Environment", "Rule set", "SSE streams", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.flatMap((b) => {
        const envs = Object.entries(b.environments || {}).sort();
        const rows = envs.length ? envs : [["", null]];
        return rows.map(([e, s], i) => h("tr", { "data-bearer": b.id },
          h("td", {}, i ? "" : h("code", { title: "started " + fmtTime(b.started) }, b.id)),
          h("td", {}, i ? "" : b.address || "?"),
          h("td", {}, i ? "" : b.version || "?"),
          h("td", {}, e || h("span", { class: "muted" }, "none")),
          h("td", {}, s ? h("code", {}, (s.version || "").slice(0, 12)) : ""),
          h("td", {}, s ? streams(s.streams) : ""),
          h("td", {}, i ? "" : [age(b.last_seen), b.stale ? [" ", h("span", { class: "chip warn", title: "no heartbeat for over 10 s: stopped, or cannot reach the store" }, "stale")] : null])));
      }))))
      : d.bearers_error ? null : h("p", {}, "None: no bearer has written to the store in the last 15 s."),
    list.some((b) => b.environments_omitted) ? h("p", { class: "muted" }, "Some bearers serve more environments than a record lists (100).") : null);
}

// ---- start ---------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    signIn($("key").value.trim());
    $("key").value = "";
  });
  $("signout").addEventListener("click", () => signOut(""));
  window.addEventListener("hashchange", route);
  // Leaving the page ends its stream at once, so the server's per-key
  // limit and the browser's six connections per host are freed.
  window.addEventListener("pagehide", () => { if (S.stream) S.stream.abort(); });
  if (S.key) signIn(S.key); else signOut("");
});
