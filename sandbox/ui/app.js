// The Errand sandbox's Slack client. It renders what the bot sent to the Slack stand-in
// (read from /_sandbox) and sends what a person does to /ui/api, where Python signs it as
// Slack would and posts it to the bot. It knows Block Kit and mrkdwn, nothing about jobs.
"use strict";

const S = {
  setup: null,
  users: {},          // id -> {name, real_name, roles}
  user: "U_REQUESTER",
  place: { kind: "channel", id: "C_GENERAL" },   // or { kind: "app", tab: "home"|"messages" }
  channels: [],
  conv: null,
  views: { home: null, modals: [] },
  thread: null,       // ts of the open thread in the current conversation
  version: 0,
  modalKey: "",
  modalErrors: {},
};
const presses = new Map();
let pressSeq = 0;
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

// -- mrkdwn -------------------------------------------------------------------------------

const EMOJI = {
  hourglass_flowing_sand: "⏳", hourglass: "⌛", gear: "⚙️", eyes: "👀",
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", no_entry_sign: "🚫",
  no_entry: "⛔", alarm_clock: "⏰", octagonal_sign: "🛑", rocket: "🚀", repeat: "🔁",
  warning: "⚠️", tada: "🎉", memo: "📝", page_facing_up: "📄", link: "🔗", mag: "🔍",
  bulb: "💡", bell: "🔔", lock: "🔒", information_source: "ℹ️", thumbsup: "👍",
  "+1": "👍", wave: "👋", robot_face: "🤖", inbox_tray: "📥", paperclip: "📎",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", stopwatch: "⏱️",
  hammer_and_wrench: "🛠️", clipboard: "📋", speech_balloon: "💬", sos: "🆘",
};

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function unslack(text) {  // Slack escapes exactly these three in message text
  return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emoji(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
}

function safeHref(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

function special(inner) {  // the inside of <...>: mentions, channels, dates, links
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const u = S.users[target.slice(1)];
    return `<span class="mention">@${esc(label || (u ? u.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    const c = S.channels.find((x) => x.id === target.slice(1));
    return `<span class="mention">#${esc(label || (c ? c.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("!date^")) {
    const stamp = Number(target.split("^")[1]);
    return esc(Number.isFinite(stamp) ? new Date(stamp * 1000).toLocaleString() : label || "");
  }
  if (target.startsWith("!subteam^")) return `<span class="mention">${esc(label || "@group")}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${esc(label || target.slice(1))}</span>`;
  const href = safeHref(unslack(target));
  if (!href) return esc(unslack(label || target));
  const link = permalink(href);
  if (link) {  // a link into this workspace opens here, not at slack.com
    return `<a href="#" data-link-channel="${esc(link.channel)}" data-link-ts="${esc(link.ts)}">`
      + `${esc(unslack(label || target))}</a>`;
  }
  return `<a href="${esc(href)}" target="_blank" rel="noopener">${esc(unslack(label || target))}</a>`;
}

function permalink(href) {  // https://<team>.slack.com/archives/<channel>/p<ts>[?thread_ts=T]
  const m = href.match(/^https:\/\/[^/]+\.slack\.com\/archives\/([A-Z0-9_]+)\/p(\d{7,})(\?.*)?$/);
  if (!m) return null;
  const thread = new URLSearchParams(m[3] || "").get("thread_ts");
  const ts = `${m[2].slice(0, -6)}.${m[2].slice(-6)}`;
  return { channel: m[1], ts: thread || ts };
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function mrkdwn(raw) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let text = String(raw || "");
  text = text.replace(/```([\s\S]*?)```/g, (m, code) => hold(`<pre>${esc(unslack(code))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (m, code) => hold(`<code>${esc(unslack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (m, inner) => hold(special(inner)));
  let html = esc(unslack(text));
  const edge = "(^|[\\s(\\u0000>])";
  const stop = "(?=$|[\\s).,;:!?\\u0000<])";
  html = html.replace(new RegExp(`${edge}\\*([^*\\n]+)\\*${stop}`, "g"), "$1<b>$2</b>");
  html = html.replace(new RegExp(`${edge}_([^_\\n]+)_${stop}`, "g"), "$1<i>$2</i>");
  html = html.replace(new RegExp(`${edge}~([^~\\n]+)~${stop}`, "g"), "$1<s>$2</s>");
  html = quotes(html);
  html = emoji(html).replace(/\n/g, "<br>");
  return html.replace(/\u0000(\d+)\u0000/g, (m, i) => held[Number(i)]);
}

function quotes(html) {  // consecutive "> " lines become one blockquote
  const out = [];
  let quoted = [];
  const flush = () => {
    if (quoted.length) out.push(`<blockquote>${quoted.join("\n")}</blockquote>`);
    quoted = [];
  };
  for (const line of html.split("\n")) {
    const m = line.match(/^&gt;\s?(.*)$/);
    if (m) { quoted.push(m[1]); continue; }
    flush();
    out.push(line);
  }
  flush();
  return out.join("\n").replace(/<\/blockquote>\n/g, "</blockquote>");
}

function textObject(obj) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  const plain = esc(obj.text || "");
  return (obj.emoji === false ? plain : emoji(plain)).replace(/\n/g, "<br>");
}

// -- Block Kit ----------------------------------------------------------------------------

function pressable(element, where) {
  const id = ++pressSeq;
  presses.set(id, { ...where, action_id: element.action_id, value: element.value,
    text: (element.text || {}).text || "" });
  return id;
}

function element(el, where, blockId) {
  if (!el) return "";
  if (el.type === "button") {
    const id = pressable(el, { ...where, block_id: blockId });
    const style = el.style ? ` ${el.style}` : "";
    if (el.url && safeHref(el.url)) {
      return `<a class="bk-btn${style}" href="${esc(el.url)}" target="_blank" rel="noopener"`
        + ` data-press="${id}">${textObject(el.text)}</a>`;
    }
    return `<button type="button" class="bk-btn${style}" data-press="${id}"`
      + ` data-action-id="${esc(el.action_id || "")}">${textObject(el.text)}</button>`;
  }
  if (el.type === "image") return imageLink(el.image_url, el.alt_text);
  if (el.type === "mrkdwn" || el.type === "plain_text") return `<span>${textObject(el)}</span>`;
  return `<span class="bk-unsupported">[${esc(el.type)}]</span>`;
}

function imageLink(url, alt) {
  const href = safeHref(url || "");
  const label = `🖼 ${esc(alt || "image")}`;
  return href ? `<a href="${esc(href)}" target="_blank" rel="noopener">${label}</a>` : label;
}

function block(b, where) {
  switch (b.type) {
    case "section": {
      const fields = (b.fields || []).map((f) => `<div>${textObject(f)}</div>`).join("");
      return `<div class="bk-section"><div class="bk-text">${textObject(b.text)}`
        + `${fields ? `<div class="bk-fields">${fields}</div>` : ""}</div>`
        + `${b.accessory ? element(b.accessory, where, b.block_id) : ""}</div>`;
    }
    case "context":
      return `<div class="bk-context">${(b.elements || []).map((e) => element(e, where, b.block_id)).join("")}</div>`;
    case "actions":
      return `<div class="bk-actions">${(b.elements || []).map((e) => element(e, where, b.block_id)).join("")}</div>`;
    case "divider":
      return `<hr class="bk-divider">`;
    case "header":
      return `<div class="bk-header">${textObject(b.text)}</div>`;
    case "image":
      return `<div class="bk-image">${b.title ? textObject(b.title) + " " : ""}${imageLink(b.image_url, b.alt_text)}</div>`;
    case "input":
      return inputBlock(b);
    case "rich_text":
      return `<div class="bk-rich">${mrkdwn(richText(b.elements || []))}</div>`;
    default:
      return `<div class="bk-unsupported">[unsupported block: ${esc(b.type)}]</div>`;
  }
}

function richText(elements) {  // flattened to mrkdwn; good enough to read
  return elements.map((e) => {
    if (e.type === "text") return e.text || "";
    if (e.type === "link") return `<${e.url}|${e.text || e.url}>`;
    if (e.type === "user") return `<@${e.user_id}>`;
    if (e.type === "channel") return `<#${e.channel_id}>`;
    if (e.type === "emoji") return `:${e.name}:`;
    const inner = richText(e.elements || []);
    if (e.type === "rich_text_preformatted") return "```" + inner + "```";
    if (e.type === "rich_text_quote") return inner.split("\n").map((l) => `> ${l}`).join("\n");
    if (e.type === "rich_text_list") return (e.elements || []).map((i) => `• ${richText(i.elements || [])}`).join("\n");
    return inner + (e.type === "rich_text_section" ? "\n" : "");
  }).join("");
}

function inputBlock(b) {
  const el = b.element || {};
  const error = S.modalErrors[b.block_id];
  const attrs = `data-block-id="${esc(b.block_id || "")}" data-action-id="${esc(el.action_id || "")}"`
    + ` aria-label="${esc((b.label || {}).text || "")}"`
    + (el.max_length ? ` maxlength="${Number(el.max_length)}"` : "");
  const initial = esc(el.initial_value || "");
  const field = el.type !== "plain_text_input"
    ? `<span class="bk-unsupported">[${esc(el.type)}]</span>`
    : el.multiline ? `<textarea ${attrs}>${initial}</textarea>` : `<input ${attrs} value="${initial}">`;
  return `<div class="bk-input"><label>${textObject(b.label)}</label>${field}`
    + `${error ? `<div class="error">${esc(error)}</div>` : ""}</div>`;
}

function blocks(list, where) {
  return (list || []).map((b) => block(b, where)).join("");
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
  const replies = (m.replies || []).length;
  const repliesLink = opts.inThread || !replies ? ""
    : `<button type="button" class="replies" data-thread="${esc(m.ts)}">${replies} ${replies === 1 ? "reply" : "replies"}</button>`;
  return `<div class="msg${m.ephemeral ? " ephemeral" : ""}" data-ts="${esc(m.ts)}">`
    + `<div class="avatar">${esc(who.name.slice(0, 1))}</div><div class="msg-body">`
    + `<div class="meta"><b>${esc(who.name)}</b>${who.app ? `<span class="badge">APP</span>` : ""}`
    + `${clock(m.ts)}${m.edited ? ` <span class="edited">(edited)</span>` : ""}`
    + `${m.ephemeral ? ` <span class="only-you">Only visible to you</span>` : ""}</div>`
    + `${body}${files}${attachments}${repliesLink}</div></div>`;
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
    sideItem(`# ${c.name}`, `data-channel="${esc(c.id)}"`,
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
  $("subtitle").textContent = inApp ? "App" : conv ? (conv.purpose || {}).value || "" : "";
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
    || `<div class="msg meta">No messages yet. Try a slash command below.</div>`;
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
  $("thread-messages").innerHTML = message(parent, where, { inThread: true })
    + items.map((m) => message(m, where, { inThread: true })).join("");
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
  for (const field of layer.querySelectorAll("[data-block-id]")) {
    const old = (typed[field.dataset.blockId] || {})[field.dataset.actionId];
    if (old !== undefined) field.value = old;
  }
}

function modalValues() {
  const values = {};
  for (const field of $("modal-layer").querySelectorAll("[data-block-id]")) {
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
      const [channels, views] = await Promise.all([
        getJSON("/_sandbox/channels"), getJSON(`/_sandbox/views/${encodeURIComponent(S.user)}`)]);
      S.channels = channels.channels;
      S.views = views;
      S.conv = await loadConversation();
      render();
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

// -- what a person does -------------------------------------------------------------------

function go(place) {
  S.place = place;
  S.thread = null;
  if (place.kind === "app" && place.tab === "home") act("home", {});  // Slack sends app_home_opened
  refresh();
}

function composerChannel() {
  if (S.place.kind === "channel") return S.place.id;
  return S.conv ? S.conv.channel.id : null;
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text) return;
  if (!text.startsWith("/")) {
    toast("This sandbox sends slash commands only: /research, /draft, /jobs.");
    return;
  }
  const channel = composerChannel();
  if (!channel) { toast("Open a channel first."); return; }
  input.disabled = true;  // one command at a time, so answers arrive in the order typed
  try {
    const answer = await act("command", { channel, text });
    if (answer.ok !== false) input.value = "";
  } finally {
    input.disabled = false;
    input.focus();
  }
}

async function press(button) {
  const where = presses.get(Number(button.dataset.press));
  if (!where) return;
  if (button.tagName === "A") { act("press", where); return; }
  button.disabled = true;
  try { await act("press", where); } finally { button.disabled = false; }
}

async function submitModal(button) {
  const viewId = button.dataset.view;
  const flat = modalValues();
  button.disabled = true;
  const answer = await act("submit", { view_id: viewId, values: flat });
  button.disabled = false;
  S.modalErrors = answer.errors || {};
  if (answer.errors) { S.modalKey = ""; renderModal(); }
}

async function setDelay() {
  const seconds = Number($("delay").value);
  const r = await fetch("/ui/api/provider", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ duration: seconds }) });
  const body = await r.json();
  if (!r.ok) { toast(body.error || "could not set the delay"); return; }
  showDelay(body);
  toast(`New answers take ${seconds} s.`);
}

function showDelay(config) {
  const low = config.duration_min, high = config.duration_max;
  $("delay-now").textContent = low === high ? `(now ${low} s)` : `(now ${low}–${high} s)`;
  if (!$("delay").value) $("delay").value = Math.round(high);
}

function wire() {
  $("composer").addEventListener("submit", send);
  $("as-user").addEventListener("change", (e) => {
    S.user = e.target.value;
    S.modalErrors = {};
    S.modalKey = "";
    go(S.place);
  });
  document.addEventListener("click", (e) => {
    const t = e.target.closest("button, a");
    if (!t) return;
    if (t.dataset.press) { e.preventDefault(); press(t); }
    else if (t.dataset.channel) go({ kind: "channel", id: t.dataset.channel });
    else if (t.dataset.app) go({ kind: "app", tab: "home" });
    else if (t.dataset.tab) go({ kind: "app", tab: t.dataset.tab });
    else if (t.dataset.thread) { S.thread = t.dataset.thread; render(); }
    else if (t.dataset.linkChannel) {
      e.preventDefault();
      go({ kind: "channel", id: t.dataset.linkChannel });
      S.thread = t.dataset.linkTs;  // the thread pane opens once the channel has loaded
    }
    else if (t.dataset.directive) {
      const input = $("composer-input");
      input.value = `${input.value.trim()} ${t.dataset.directive}`.trim();
      input.focus();
    }
    else if (t.id === "thread-close") { S.thread = null; render(); }
    else if (t.id === "modal-close") { S.modalErrors = {}; act("close", {}); }
    else if (t.id === "modal-submit") submitModal(t);
    else if (t.id === "delay-set") setDelay();
  });
}

async function start() {
  S.setup = await getJSON("/ui/api/setup");
  for (const u of S.setup.users) S.users[u.id] = u;
  $("team").textContent = S.setup.team.name;
  $("as-user").innerHTML = S.setup.users.map((u) =>
    `<option value="${esc(u.id)}">${esc(u.real_name)}${u.roles.length ? ` (${esc(u.roles.join(", "))})` : ""}</option>`).join("");
  $("as-user").value = S.user;
  $("directives").innerHTML = S.setup.directives.map((d) =>
    `<button type="button" class="chip" data-directive="${esc(d.text)}" title="${esc(d.what)}">${esc(d.text)}</button>`).join(" ");
  showDelay(await getJSON("/ui/api/provider"));
  wire();
  await refresh();
  follow();
}

start().catch((err) => toast(`The sandbox page could not start: ${err.message}`));
