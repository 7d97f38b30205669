// What a person does on the sandbox page: type (a command, or a message that may mention
// the app), press buttons and 👍/👎, pick a message shortcut, press Stop on a working
// agent, fill and submit modals (uploading chosen files first). Everything goes to
// /ui/api, where Python signs it as Slack would and sends it to the bot.
"use strict";

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

function encodeMentions(text) {  // "@errand" or "@riley" as Slack's <@U123> mention
  const byName = { [S.setup.app.handle.toLowerCase()]: S.setup.app.bot_user_id,
    [S.setup.app.name.toLowerCase()]: S.setup.app.bot_user_id };
  for (const u of Object.values(S.users)) byName[u.name.toLowerCase()] = u.id;
  return text.replace(/(^|\s)@([\w.-]+)/g, (m, lead, name) => {
    const id = byName[name.toLowerCase()];
    return id ? `${lead}<@${id}>` : m;
  });
}

async function sendFrom(input, threadTs) {  // one message or command at a time, in order
  const text = input.value.trim();
  if (!text) return;
  const channel = composerChannel();
  if (!channel) { toast("Open a channel first."); return; }
  input.disabled = true;
  try {
    const answer = text.startsWith("/") && !threadTs
      ? await act("command", { channel, text })
      : await act("message", { channel, text: encodeMentions(text), thread_ts: threadTs || undefined });
    if (answer.ok !== false && !answer.error) input.value = "";
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

async function uploadChosen(field) {  // each chosen file becomes a Slack file id
  const ids = [];
  for (const file of field.files) {
    const form = new FormData();
    form.append("user", S.user);
    form.append("file", file, file.name);
    const r = await fetch("/ui/api/upload", { method: "POST", body: form });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(answer.error || `upload failed (HTTP ${r.status})`);
    ids.push(answer.file.id);
  }
  return ids;
}

async function submitModal(button) {
  const values = modalValues();
  button.disabled = true;
  try {
    for (const field of $("modal-layer").querySelectorAll("[data-file-input]")) {
      const ids = await uploadChosen(field);
      values[field.dataset.blockId] = { ...(values[field.dataset.blockId] || {}), [field.dataset.actionId]: ids };
    }
    const answer = await act("submit", { view_id: button.dataset.view, values });
    S.modalErrors = answer.errors || {};
    if (answer.errors) { S.modalKey = ""; renderModal(); }
  } catch (err) {
    toast(err.message);
  } finally {
    button.disabled = false;
  }
}

async function shortcut(button) {
  const answer = await act("shortcut", { channel: button.dataset.channelId, ts: button.dataset.ts,
    callback_id: button.dataset.shortcut });
  if (answer.ok) toast(`Sent "${button.dataset.name}" to ${S.setup.app.name}.`);
}

async function stopAgent(button) {
  button.disabled = true;
  const answer = await act("stop", { channel: S.conv.channel.id, thread_ts: S.thread });
  if (answer.ok) toast(`Stopped ${S.setup.app.name}.`);
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

function clicked(t, e) {
  if (t.dataset.press) { e.preventDefault(); press(t); }
  else if (t.dataset.shortcut) shortcut(t);
  else if (t.dataset.channel) go({ kind: "channel", id: t.dataset.channel });
  else if (t.dataset.app) go({ kind: "app", tab: "home" });
  else if (t.dataset.tab) go({ kind: "app", tab: t.dataset.tab });
  else if (t.dataset.thread) { S.thread = t.dataset.thread; render(); $("thread-input").focus(); }
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
  else if (t.id === "agent-stop") stopAgent(t);
  else if (t.id === "modal-close") { S.modalErrors = {}; act("close", {}); }
  else if (t.id === "modal-submit") submitModal(t);
  else if (t.id === "delay-set") setDelay();
}

function wire() {
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); sendFrom($("composer-input")); });
  $("thread-composer").addEventListener("submit", (e) => { e.preventDefault(); sendFrom($("thread-input"), S.thread); });
  $("as-user").addEventListener("change", (e) => {
    S.user = e.target.value;
    S.modalErrors = {};
    S.modalKey = "";
    go(S.place);
  });
  document.addEventListener("click", (e) => {
    const t = e.target.closest("button, a");
    if (t) clicked(t, e);
  });
}

async function start() {
  S.setup = await getJSON("/ui/api/setup");
  for (const u of S.setup.users) S.users[u.id] = u;
  $("team").textContent = S.setup.team.name;
  $("as-user").innerHTML = S.setup.users.map((u) =>
    `<option value="${esc(u.id)}">${esc(u.real_name)}${u.roles.length ? ` (${esc(u.roles.join(", "))})` : ""}</option>`).join("");
  $("as-user").value = S.user;
  $("app-handle").textContent = `@${S.setup.app.handle}`;
  if (S.setup.console_url) {  // Errand's operator console, when the sandbox runs one
    $("console-link").href = S.setup.console_url;
    $("console-link").hidden = false;
  }
  $("directives").innerHTML = S.setup.directives.map((d) =>
    `<button type="button" class="chip" data-directive="${esc(d.text)}" title="${esc(d.what)}">${esc(d.text)}</button>`).join(" ");
  showDelay(await getJSON("/ui/api/provider"));
  wire();
  await refresh();
  follow();
  watchStats();
}

start().catch((err) => toast(`The sandbox page could not start: ${err.message}`));
