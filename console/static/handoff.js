// Handoff pages of the console (console/handoff.py): the queue and one conversation, kept
// live by polling the console's own JSON endpoints. Everything from the server is put in the
// page as text (textContent), never as markup.
"use strict";

const QUEUE_MS = 2000;
const CHAT_MS = 1500;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function duration(seconds) {
  const m = Math.floor(seconds / 60);
  return m ? `${m} 分 ${seconds % 60} 秒` : `${seconds} 秒`;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) window.location.assign("/login");
  if (!response.ok) throw new Error(String(response.status));
  return response.json();
}

function repeat(task, ms) {
  const run = async () => {
    try {
      await task();
    } catch {
      // The next round tries again; a console restart must not need a reload.
    }
    setTimeout(run, ms);
  };
  setTimeout(run, ms);
}

function queueRow(r) {
  const tr = el("tr");
  tr.dataset.sender = r.sender_id;
  const link = el("a", "open", r.sender_id);
  link.href = `/handoff/chat?id=${encodeURIComponent(r.sender_id)}`;
  const first = el("td");
  first.append(link);
  const state = (r.claimed_by ? `${r.claimed_by} 接待中` : "待接入") + (r.after_hours ? "（非服务时间提出）" : "");
  const waited = el("td", "waited", duration(r.waited_s));
  waited.dataset.s = r.waited_s;
  tr.append(first, el("td", null, r.channel), el("td", null, r.city || "未知"), el("td", null, r.service || "–"),
    el("td", null, r.reason), el("td", null, r.requested), waited, el("td", "state", state));
  return tr;
}

function liveQueue(table) {
  const body = table.tBodies[0];
  for (const cell of body.querySelectorAll(".waited")) cell.textContent = duration(Number(cell.dataset.s));
  repeat(async () => {
    const data = await getJson(table.dataset.api);
    body.replaceChildren(...data.requests.map(queueRow));
    document.getElementById("queue-empty").hidden = data.requests.length > 0;
  }, QUEUE_MS);
}

function liveChat(section) {
  const log = document.getElementById("log");
  const holder = document.getElementById("holder");
  const waited = document.getElementById("waited");
  let last = Number(section.dataset.last) || 0;
  const claimedBy = section.dataset.holder;
  log.scrollTop = log.scrollHeight;
  repeat(async () => {
    const url = `${section.dataset.api}?id=${encodeURIComponent(section.dataset.id)}&after=${last}`;
    const data = await getJson(url);
    for (const b of data.bubbles) {
      const bubble = el("div", `bubble ${b.who}`);
      bubble.dataset.id = b.id;
      bubble.append(el("small", null, `${b.name} ${b.time}`), el("span", "text", b.text));
      log.append(bubble);
      last = Math.max(last, b.id);
    }
    if (data.bubbles.length) log.scrollTop = log.scrollHeight;
    if (waited) waited.textContent = String(data.waited_s);
    // Someone claimed, reassigned or handed back since the page was made: its forms are stale.
    if (data.claimed_by !== claimedBy) window.location.reload();
    if (!data.open) holder.textContent = "这个会话不在转人工队列中（已交还机器人）。";
  }, CHAT_MS);
}

const textBox = document.getElementById("reply-text");
for (const button of document.querySelectorAll(".canned-reply")) {
  button.addEventListener("click", () => {
    textBox.value = button.dataset.text;
    textBox.focus();
  });
}
const queueTable = document.getElementById("queue");
if (queueTable) liveQueue(queueTable);
const chatSection = document.getElementById("handoff");
if (chatSection) liveChat(chatSection);
