// The Errand sandbox's Slack client: what it shows. It renders what the bot sent to the
// Slack stand-in (read from /_sandbox): messages as they stream, reactions, threads with
// their agent session, modals; actions.js sends what a person does to /ui/api, where
// Python signs it as Slack would. It knows Block Kit and mrkdwn, nothing about jobs.
"use strict";

const S = {
  setup: null,
  users: {},          // id -> {name, real_name, roles}
  user: "U_REQUESTER",
  place: { kind: "channel", id: "C_GENERAL" },   // or { kind: "app", tab: "home"|"messages" }
  channels: [],
  conv: null,
  views: { home: null, modals: [] },
  settings: { message_shortcuts: [], bot_events: [] },
  sessions: {},       // "channel/thread_ts" -> agent session
  thread: null,       // ts of the open thread in the current conversation
  version: 0,
  modalKey: "",
  modalErrors: {},
};
const $ = (id) => document.getElementById(id);

// -- talking to the server --------------------------------------------------------------

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function act(path, body) {
  const r = await fetch(`/ui/api/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: S.user, ...body }),
  });
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) toast(answer.error || `HTTP ${r.status}`);
  else if (answer.ok === false) toast(`The app answered HTTP ${answer.status}.`);
  return answer;
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

// -- messages -----------------------------------------------------------------------------

function author(id) {
  if (id === S.setup.app.bot_user_id) return { name: S.setup.app.name, app: true };
  const u = S.users[id];
  return { name: u ? u.real_name : id, app: false };
}

function clock(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const STREAM_LABELS = { streaming: "streaming…", expired: "stream closed by Slack (5 min)",
  stopped_by_user: "stopped" };

function message(m, where, opts = {}) {
  const who = author(m.ephemeral ? S.setup.app.bot_user_id : m.user);  // only apps post ephemerals
  const here = { ...where, ts: m.ts, thread_ts: m.thread_ts || null, ephemeral: !!m.ephemeral };
  const body = m.deleted || m.subtype === "tombstone"
    ? `<div class="deleted">This message was deleted.</div>`
    : m.blocks && m.blocks.length ? blocks(m.blocks, here) : `<div>${mrkdwn(m.text)}</div>`;
  const files = (m.files || []).map((f) => `<div class="file">📄 <a href="/_sandbox/files/${esc(f.id)}"`
    + ` download="${esc(f.name)}">${esc(f.title || f.name)}</a> <span class="meta">${esc(f.pretty_type || "")}`
    + ` · ${Number(f.size || 0).toLocaleString()} bytes</span></div>`).join("");
  const attachments = (m.attachments || []).map((a) => `<div class="attachment"`
    + ` style="border-left-color:${/^#?[0-9a-f]{3,6}$/i.test(a.color || "") ? esc(a.color.startsWith("#") ? a.color : "#" + a.color) : "#ddd"}">`
    + `${a.blocks ? blocks(a.blocks, here) : mrkdwn(a.text || a.fallback || "")}</div>`).join("");
  const stream = STREAM_LABELS[m.streaming] ? ` <span class="streaming ${esc(m.streaming)}">${STREAM_LABELS[m.streaming]}</span>` : "";
  return `<div class="msg${m.ephemeral ? " ephemeral" : ""}${m.streaming === "streaming" ? " is-streaming" : ""}" data-ts="${esc(m.ts)}">`
    + `<div class="avatar">${esc(who.name.slice(0, 1))}</div><div class="msg-body">`
    + `<div class="meta"><b>${esc(who.name)}</b>${who.app ? `<span class="badge">APP</span>` : ""}`
    + `${clock(m.ts)}${m.edited ? ` <span class="edited">(edited)</span>` : ""}${stream}`
    + `${m.ephemeral ? ` <span class="only-you">Only visible to you</span>` : ""}</div>`
    + `${body}${files}${attachments}${reactions(m)}${opts.inThread ? "" : repliesLink(m, where)}</div>`
    + `${m.ephemeral || m.deleted ? "" : shortcutMenu(m, where)}</div>`;
}

function reactions(m) {
  if (!(m.reactions || []).length) return "";
  return `<div class="reactions">${m.reactions.map((r) => {
    const who = r.users.map((u) => author(u).name).join(", ");
    return `<span class="reaction" title="${esc(who)} reacted with :${esc(r.name)}:">`
      + `${emoji(`:${esc(r.name)}:`)} ${r.count}</span>`;
  }).join("")}</div>`;
}

function repliesLink(m, where) {
  const replies = (m.replies || []).length;
  const session = S.sessions[`${where.channel}/${m.ts}`];
  const status = session ? ` <span class="agent-chip ${esc(session.status)}">${esc(session.status)}</span>` : "";
  if (!replies && !status) return "";
  const label = replies ? `${replies} ${replies === 1 ? "reply" : "replies"}` : "Open thread";
  return `<div class="thread-line"><button type="button" class="replies" data-thread="${esc(m.ts)}">`
    + `${label}</button>${status}</div>`;
}

function shortcutMenu(m, where) {  // message shortcuts from the app's manifest, on hover
  return `<div class="msg-actions">${S.settings.message_shortcuts.map((sc) =>
    `<button type="button" class="msg-action" data-shortcut="${esc(sc.callback_id)}"`
    + ` data-channel-id="${esc(where.channel)}" data-ts="${esc(m.ts)}" data-name="${esc(sc.name)}"`
    + ` title="${esc(sc.name)} (${esc(S.setup.app.name)})">`
    + `⚡ ${esc(sc.name)}</button>`).join("")}`
    + (m.thread_ts && m.thread_ts !== m.ts ? "" : `<button type="button" class="msg-action" data-thread="${esc(m.ts)}"`
    + ` title="Reply in thread">💬 Reply</button>`) + `</div>`;
}

function timeline(conv) {
  const mine = (conv.ephemeral || {})[S.user] || [];
  const main = [...conv.messages, ...mine.filter((e) => !e.thread_ts)];
  return main.sort((a, b) => Number(a.ts) - Number(b.ts));
}

// -- rendering ----------------------------------------------------------------------------

function render() {
  presses.clear();
  renderSidebar();
  renderHeader();
  renderMain();
  renderThread();
  renderModal();
}

function sideItem(label, attrs, active) {
  return `<button type="button" class="side-item${active ? " active" : ""}" ${attrs}>${esc(label)}</button>`;
}

function renderSidebar() {
  const place = S.place;
  $("channel-list").innerHTML = S.channels.filter((c) => c.kind === "channel").map((c) =>
    sideItem(`${c.is_archived ? "🗄" : "#"} ${c.name}`, `data-channel="${esc(c.id)}"`,
      place.kind === "channel" && place.id === c.id)).join("");
  $("app-list").innerHTML = sideItem(S.setup.app.name, `data-app="home"`, place.kind === "app");
  $("dm-list").innerHTML = S.channels.filter((c) => c.kind !== "channel" && c.members.includes(S.user))
    .map((c) => sideItem(c.kind === "im" ? S.setup.app.name : c.name, `data-channel="${esc(c.id)}"`,
      place.kind === "channel" && place.id === c.id)).join("");
}

function renderHeader() {
  const inApp = S.place.kind === "app";
  const conv = S.channels.find((c) => c.id === S.place.id);
  $("title").textContent = inApp ? S.setup.app.name : conv && conv.kind === "channel" ? `# ${conv.name}` : S.setup.app.name;
  $("subtitle").textContent = inApp ? "App" : conv ? (conv.is_archived ? "Archived. " : "") + ((conv.purpose || {}).value || "") : "";
  $("tabs").hidden = !inApp;
  for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("active", inApp && b.dataset.tab === S.place.tab);
}

function renderMain() {
  const home = S.place.kind === "app" && S.place.tab === "home";
  $("home").hidden = !home;
  $("messages").hidden = home;
  $("composer").hidden = home;
  if (home) {
    const view = S.views.home;
    $("home").innerHTML = view ? blocks(view.blocks, { view_id: view.id })
      : `<div class="meta">Opening ${esc(S.setup.app.name)}'s Home…</div>`;
    return;
  }
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const conv = S.conv;
  box.innerHTML = !conv ? "" : timeline(conv).map((m) => message(m, { channel: conv.channel.id })).join("")
    || `<div class="msg meta">No messages yet. Try a slash command or mention @${esc(S.setup.app.handle)} below.</div>`;
  if (atBottom || renderMain.lastPlace !== placeKey()) box.scrollTop = box.scrollHeight;
  renderMain.lastPlace = placeKey();
}

function placeKey() {
  return `${S.user}/${S.place.kind}/${S.place.id || S.place.tab}`;
}

function renderThread() {
  const conv = S.conv;
  const parent = conv && S.thread && conv.messages.find((m) => m.ts === S.thread);
  $("thread").hidden = !parent || (S.place.kind === "app" && S.place.tab === "home");
  if (!parent) return;
  const where = { channel: conv.channel.id };
  const mine = ((conv.ephemeral || {})[S.user] || []).filter((e) => e.thread_ts === parent.ts);
  const items = [...(parent.replies || []), ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
  $("thread-where").textContent = conv.channel.name ? `# ${conv.channel.name}` : "";
  $("thread-agent").innerHTML = agentLine(S.sessions[`${conv.channel.id}/${parent.ts}`]);
  const box = $("thread-messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.innerHTML = message(parent, where, { inThread: true })
    + items.map((m) => message(m, where, { inThread: true })).join("");
  if (atBottom || renderThread.last !== parent.ts) box.scrollTop = box.scrollHeight;
  renderThread.last = parent.ts;
}

function agentLine(session) {  // the agent session's status, with Slack's Stop while it works
  if (!session) return "";
  const canStop = session.status === "processing" && S.settings.bot_events.includes("agent_session_stopped");
  const working = session.status === "processing" ? `${esc(S.setup.app.name)} is working…` : esc(S.setup.app.name);
  return `<span class="agent-chip ${esc(session.status)}">${esc(session.status)}</span> ${working}`
    + `${session.title ? ` <span class="meta">${esc(session.title)}</span>` : ""}`
    + (canStop ? ` <button type="button" class="bk-btn danger" id="agent-stop">⏹ Stop</button>` : "");
}

function renderModal() {
  const layer = $("modal-layer");
  const top = S.views.modals[S.views.modals.length - 1];
  if (!top) {
    S.modalErrors = {};
    layer.hidden = true;
    layer.innerHTML = "";
    S.modalKey = "";
    return;
  }
  const key = `${top.id}/${top.hash}/${JSON.stringify(S.modalErrors)}`;
  if (key === S.modalKey) return;  // keep what the person is typing
  const typed = modalValues();
  S.modalKey = key;
  layer.hidden = false;
  layer.innerHTML = `<div class="modal" id="modal" role="dialog" aria-label="${esc((top.title || {}).text || "")}">`
    + `<header>${textObject(top.title)}</header>`
    + `<div class="modal-body">${blocks(top.blocks, { view_id: top.id })}</div>`
    + `<footer><button type="button" class="bk-btn" id="modal-close">${top.close ? textObject(top.close) : "Cancel"}</button>`
    + (top.submit ? `<button type="button" class="bk-btn primary" id="modal-submit" data-view="${esc(top.id)}">${textObject(top.submit)}</button>` : "")
    + `</footer></div>`;
  for (const field of layer.querySelectorAll("[data-block-id]:not([data-file-input])")) {
    const old = (typed[field.dataset.blockId] || {})[field.dataset.actionId];
    if (old !== undefined) field.value = old;
  }
}

function modalValues() {  // typed text only; chosen files are uploaded on submit
  const values = {};
  for (const field of $("modal-layer").querySelectorAll("[data-block-id]:not([data-file-input])")) {
    values[field.dataset.blockId] = { ...(values[field.dataset.blockId] || {}), [field.dataset.actionId]: field.value };
  }
  return values;
}

// -- loading state ------------------------------------------------------------------------

async function refresh() {
  if (refresh.running) { refresh.again = true; return; }
  refresh.running = true;
  try {
    do {
      refresh.again = false;
      const [channels, views, settings, sessions] = await Promise.all([
        getJSON("/_sandbox/channels"), getJSON(`/_sandbox/views/${encodeURIComponent(S.user)}`),
        getJSON("/_sandbox/settings"), getJSON("/_sandbox/agent_sessions")]);
      S.channels = channels.channels;
      S.views = views;
      S.settings = settings.settings;
      S.sessions = Object.fromEntries(sessions.sessions.map((s) => [`${s.channel}/${s.thread_ts}`, s]));
      S.conv = await loadConversation();
      render();
      showStats().catch(() => {});
    } while (refresh.again);
  } catch (err) {
    toast(`Could not load: ${err.message}`);
  } finally {
    refresh.running = false;
  }
}

async function loadConversation() {
  let id = S.place.id;
  if (S.place.kind === "app") {
    if (S.place.tab === "home") return null;
    const dm = S.channels.find((c) => c.kind === "im" && c.user === S.user);
    if (!dm) return null;
    id = dm.id;
  }
  if (!S.channels.some((c) => c.id === id)) return null;  // deleted under us
  return getJSON(`/_sandbox/channels/${encodeURIComponent(id)}/messages?user=${encodeURIComponent(S.user)}`);
}

async function follow() {  // long-poll the stand-in's change feed; refresh on any change
  for (;;) {
    try {
      const feed = await getJSON(`/_sandbox/events?since=${S.version}&timeout=25`);
      if (feed.version !== S.version) {
        S.version = feed.version;
        await refresh();
      }
    } catch (err) {
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}

async function showStats() {  // Slack's 429s, small in the sidebar
  const stats = await getJSON("/_sandbox/stats");
  const calls = Object.values(stats.calls).reduce((a, b) => a + b, 0);
  const per = Object.entries(stats.ratelimited).map(([m, n]) => `${m}: ${n}`).join("\n");
  const box = $("slack-stats");
  box.textContent = `Slack API: ${calls} calls · ${stats.ratelimited_total} × 429`;
  box.title = per ? `Rate limited (HTTP 429) by method:\n${per}` : "No call was rate limited.";
  box.classList.toggle("limited", stats.ratelimited_total > 0);
}

async function watchStats() {  // a 429 changes no message, so the feed would not say
  for (;;) {
    await showStats().catch(() => {});
    await new Promise((done) => setTimeout(done, 3000));
  }
}
