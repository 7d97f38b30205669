// Block Kit for the sandbox page: what the bot's blocks look like in Slack, and which
// elements can be pressed (buttons, 👍/👎 feedback buttons, icon buttons). A pressable
// element registers what a press sends (`presses`, read by app.js); inputs in modals
// carry data-block-id / data-action-id so app.js can collect their values.
"use strict";

const presses = new Map();
let pressSeq = 0;
const TASK_ICONS = { pending: "◯", in_progress: "⏳", complete: "✅", error: "⚠️" };

function pressable(element, where, extra = {}) {
  const id = ++pressSeq;
  presses.set(id, { ...where, action_id: element.action_id, value: element.value,
    text: (element.text || {}).text || "", ...extra });
  return id;
}

function element(el, where, blockId) {
  if (!el) return "";
  if (el.type === "button" || el.type === "icon_button") {
    const id = pressable(el, { ...where, block_id: blockId });
    const style = el.style ? ` ${el.style}` : "";
    if (el.url && safeHref(el.url)) {
      return `<a class="bk-btn${style}" href="${esc(el.url)}" target="_blank" rel="noopener"`
        + ` data-press="${id}">${textObject(el.text)}</a>`;
    }
    return `<button type="button" class="bk-btn${style}" data-press="${id}"`
      + ` data-action-id="${esc(el.action_id || "")}">${textObject(el.text)}</button>`;
  }
  if (el.type === "feedback_buttons") return feedbackButtons(el, where, blockId);
  if (el.type === "image") return imageLink(el.image_url, el.alt_text);
  if (el.type === "mrkdwn" || el.type === "plain_text") return `<span>${textObject(el)}</span>`;
  return `<span class="bk-unsupported">[${esc(el.type)}]</span>`;
}

function feedbackButtons(el, where, blockId) {  // 👍 and 👎, each sending its own value
  return ["positive_button", "negative_button"].map((side) => {
    const button = el[side] || {};
    const id = pressable({ ...button, action_id: el.action_id }, { ...where, block_id: blockId });
    const label = button.accessibility_label || (side === "positive_button" ? "Good answer" : "Bad answer");
    return `<button type="button" class="bk-feedback" data-press="${id}" aria-label="${esc(label)}"`
      + ` title="${esc(label)}">${textObject(button.text)}</button>`;
  }).join("");
}

function imageLink(url, alt) {
  const href = safeHref(url || "");
  const label = `🖼 ${esc(alt || "image")}`;
  return href ? `<a href="${esc(href)}" target="_blank" rel="noopener">${label}</a>` : label;
}

function block(b, where) {
  const elements = () => (b.elements || []).map((e) => element(e, where, b.block_id)).join("");
  switch (b.type) {
    case "section": {
      const fields = (b.fields || []).map((f) => `<div>${textObject(f)}</div>`).join("");
      return `<div class="bk-section"><div class="bk-text">${textObject(b.text)}`
        + `${fields ? `<div class="bk-fields">${fields}</div>` : ""}</div>`
        + `${b.accessory ? element(b.accessory, where, b.block_id) : ""}</div>`;
    }
    case "context": return `<div class="bk-context">${elements()}</div>`;
    case "actions": return `<div class="bk-actions">${elements()}</div>`;
    case "context_actions": return `<div class="bk-context-actions">${elements()}</div>`;
    case "divider": return `<hr class="bk-divider">`;
    case "header": return `<div class="bk-header">${textObject(b.text)}</div>`;
    case "image":
      return `<div class="bk-image">${b.title ? textObject(b.title) + " " : ""}${imageLink(b.image_url, b.alt_text)}</div>`;
    case "input": return inputBlock(b);
    case "rich_text": return `<div class="bk-rich">${mrkdwn(richText(b.elements || []))}</div>`;
    case "markdown": return `<div class="bk-markdown">${markdown(b.text)}</div>`;
    case "task_card": return taskCard(b);
    case "plan": return plan(b);
    case "alert": return `<div class="bk-alert ${esc(b.level || "default")}">${textObject(b.text)}</div>`;
    default: return `<div class="bk-unsupported">[unsupported block: ${esc(b.type)}]</div>`;
  }
}

// A thinking step: status icon, title, then details, output, sources. Titles are sent
// escaped (&amp; &lt; &gt;) and Slack shows those three decoded, as here.
function taskCard(t) {
  const rich = (r) => (r ? `<div class="task-more">${mrkdwn(richText(r.elements || []))}</div>` : "");
  const sources = (t.sources || []).map((s) => {
    const href = safeHref(s.url || "");
    return href ? `<a href="${esc(href)}" target="_blank" rel="noopener">${esc(s.text || s.url)}</a>` : "";
  }).filter(Boolean).join(" · ");
  return `<div class="task-card ${esc(t.status || "")}" data-task-id="${esc(t.task_id || "")}">`
    + `<span class="task-icon" title="${esc(t.status || "")}">${TASK_ICONS[t.status] || "◯"}</span>`
    + `<div class="task-body"><div class="task-title">${esc(unslack(t.title || ""))}</div>`
    + `${rich(t.details)}${rich(t.output)}${sources ? `<div class="task-sources">${sources}</div>` : ""}`
    + `</div></div>`;
}

function plan(p) {
  const done = (p.tasks || []).filter((t) => t.status === "complete").length;
  return `<div class="bk-plan"><div class="plan-title">${esc(unslack(p.title || "Plan"))}`
    + ` <span class="meta">${done}/${(p.tasks || []).length}</span></div>`
    + `${(p.tasks || []).map(taskCard).join("")}</div>`;
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
  }).join("").replace(/\n$/, "");
}

function inputBlock(b) {
  const el = b.element || {};
  const error = S.modalErrors[b.block_id];
  const attrs = `data-block-id="${esc(b.block_id || "")}" data-action-id="${esc(el.action_id || "")}"`
    + ` aria-label="${esc((b.label || {}).text || "")}"`
    + (el.max_length ? ` maxlength="${Number(el.max_length)}"` : "");
  const initial = esc(el.initial_value || "");
  let field = `<span class="bk-unsupported">[${esc(el.type)}]</span>`;
  if (el.type === "plain_text_input") {
    field = el.multiline ? `<textarea ${attrs}>${initial}</textarea>` : `<input ${attrs} value="${initial}">`;
  } else if (el.type === "static_select") {
    const chosen = (el.initial_option || {}).value;
    field = `<select ${attrs}>` + (el.options || []).map((o) => `<option value="${esc(o.value)}"`
      + `${o.value === chosen ? " selected" : ""}>${textObject(o.text)}</option>`).join("") + `</select>`;
  } else if (el.type === "file_input") {
    const accept = (el.filetypes || []).map((t) => `.${String(t).replace(/^\./, "")}`).join(",");
    const many = (el.max_files || 10) > 1 ? " multiple" : "";
    field = `<input type="file" ${attrs} data-file-input data-max-files="${Number(el.max_files || 10)}"`
      + `${accept ? ` accept="${esc(accept)}"` : ""}${many}>`
      + `<div class="hint">${accept ? `Accepts ${esc(accept)}. ` : ""}Up to ${Number(el.max_files || 10)}`
      + ` file(s), 10 MB each.</div>`;
  }
  return `<div class="bk-input"><label>${textObject(b.label)}</label>${field}`
    + `${b.hint ? `<div class="hint">${textObject(b.hint)}</div>` : ""}`
    + `${error ? `<div class="error">${esc(error)}</div>` : ""}</div>`;
}

function blocks(list, where) {
  return (list || []).map((b) => block(b, where)).join("");
}
