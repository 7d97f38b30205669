// Slack's text formats for the sandbox page: mrkdwn (message text and text objects),
// standard Markdown (markdown blocks and streamed messages), emoji and escaping.
// Shared by blocks.js and app.js (plain scripts, one global scope, no build step).
"use strict";

const EMOJI = {
  hourglass_flowing_sand: "⏳", hourglass: "⌛", gear: "⚙️", eyes: "👀",
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", no_entry_sign: "🚫",
  no_entry: "⛔", alarm_clock: "⏰", octagonal_sign: "🛑", rocket: "🚀", repeat: "🔁",
  warning: "⚠️", tada: "🎉", memo: "📝", page_facing_up: "📄", link: "🔗", mag: "🔍",
  bulb: "💡", bell: "🔔", lock: "🔒", information_source: "ℹ️", thumbsup: "👍",
  "+1": "👍", wave: "👋", robot_face: "🤖", inbox_tray: "📥", paperclip: "📎",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", stopwatch: "⏱️",
  hammer_and_wrench: "🛠️", clipboard: "📋", speech_balloon: "💬", sos: "🆘",
  thumbsdown: "👎", "-1": "👎", heart: "❤️", brain: "🧠", books: "📚", hourglass_done: "⌛",
  arrows_counterclockwise: "🔄", stop_button: "⏹️", sparkles: "✨", thinking_face: "🤔",
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
    const id = target.slice(1);
    const u = S.users[id];
    const name = u ? u.name : S.setup && id === S.setup.app.bot_user_id ? S.setup.app.handle : id;
    return `<span class="mention">@${esc(label || name)}</span>`;
  }
  if (target.startsWith("#")) {
    const c = S.channels.find((x) => x.id === target.slice(1));
    return `<span class="mention">#${esc(label || (c ? c.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("!date^")) return esc(slackDate(target, label));
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

function slackDate(target, fallback) {  // <!date^EPOCH^FORMAT|fallback>, as Slack shows it
  const [, epoch, format] = target.split("^");
  const when = new Date(Number(epoch) * 1000);
  if (!Number.isFinite(when.getTime()) || !format) return fallback || "";
  const time = when.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  const date = when.toLocaleDateString([], { month: "short", day: "numeric" });
  return format
    .replace("{time_secs}", when.toLocaleTimeString())
    .replace("{time}", time)
    .replace(/\{date[a-z_]*\}/g, date);
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

// Standard Markdown, enough to read an answer: headings, lists, quotes, code, emphasis,
// links. Slack renders markdown blocks and streamed text this way, not as mrkdwn.
function markdown(raw) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let text = String(raw || "");
  text = text.replace(/```[a-z]*\n?([\s\S]*?)```/g, (m, code) => hold(`<pre>${esc(code)}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (m, code) => hold(`<code>${esc(code)}</code>`));
  text = text.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (m, label, url) => {
    const href = safeHref(url);
    return hold(href ? `<a href="${esc(href)}" target="_blank" rel="noopener">${esc(label)}</a>` : esc(label));
  });
  text = text.replace(/<(@[A-Z0-9_]+|#[A-Z0-9_]+|https?:[^<>\s]+)>/g, (m, inner) => hold(special(inner)));
  const lines = esc(text).split("\n").map(markdownLine);
  const html = emoji(lines.join("\n")).replace(/<\/(h\d|li|blockquote)>\n/g, "</$1>").replace(/\n/g, "<br>");
  return html.replace(/\u0000(\d+)\u0000/g, (m, i) => held[Number(i)]);
}

function markdownLine(line) {
  const heading = line.match(/^(#{1,6})\s+(.*)$/);
  if (heading) {
    const level = Math.min(6, heading[1].length + 2);
    return `<h${level} class="md-h">${inline(heading[2])}</h${level}>`;
  }
  const item = line.match(/^\s*(?:[-*+]|\d+\.)\s+(.*)$/);
  if (item) return `<li class="md-li">${inline(item[1])}</li>`;
  const quote = line.match(/^&gt;\s?(.*)$/);
  if (quote) return `<blockquote>${inline(quote[1])}</blockquote>`;
  return inline(line);
}

function inline(html) {
  return html
    .replace(/\*\*([^*\n]+)\*\*/g, "<b>$1</b>")
    .replace(/(^|[\s(])[*_]([^*_\n]+)[*_](?=$|[\s).,;:!?])/g, "$1<i>$2</i>")
    .replace(/~~([^~\n]+)~~/g, "<s>$1</s>");
}
