// CityLink web chat: talks to the bot's webchat channel on the same server.
//
// Rules this file keeps:
// * Everything anyone typed or the bot said goes into the page with
//   textContent, never as markup, so a message can't inject HTML or script.
// * Messages go out one at a time through an outbox; when the server can't be
//   reached they wait (shown as "等待发送") and are retried with backoff, so
//   nothing the citizen typed is lost and the order is kept.
// * The conversation lives in the bot's tracker store; the page only keeps its
//   chat id in localStorage and asks the server for the history on load.
// * The chat id is a secret (whoever has it reads the conversation): random,
//   sent only in the CHAT_ID_HEADER header, never in a URL. 结束并清除 asks
//   the bot to erase the conversation and then forgets the id, so the next
//   person at a shared phone starts fresh.
// * Every message carries an id made once, so a resend after a lost response
//   is answered, not run twice.
// * Human handoff: from 转人工 until the bot is back, the page long-polls
//   UPDATES_URL for what support staff send (bot/channels/webchat_push.py);
//   their messages are marked 人工客服 with the staff member's name.

const CITIES = ["广州", "深圳", "佛山", "武汉", "上海"];
const CHAT_ID_KEY = "citylink.chat";
const CITY_KEY = "citylink.city";
const CHAT_ID_HEADER = "X-CityLink-Chat-Id";
// Same rule as the server (bot/channels/webchat.py CHAT_ID_PATTERN).
const CHAT_ID_PATTERN = /^[A-Za-z0-9_-]{32,64}$/;
const ERASE_PAYLOAD = "/delete_my_data";
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
// A turn may run slow backend actions; past this the page gives up waiting.
const REPLY_TIMEOUT_MS = 60000;
// Quick replies of bot messages; the welcome's starters are never retired.
const RETIRABLE = ".quick-replies:not(.quick-replies--starters) button";
// Statuses a proxy or a starting Rasa answers with: worth retrying.
const RETRYABLE_STATUS = new Set([502, 503, 504]);

// Relative to the page, so the chat works under whatever prefix serves it.
const WEBHOOK_URL = new URL("webhook", document.baseURI);
const HISTORY_URL = new URL("history", document.baseURI);
const UPDATES_URL = new URL("updates", document.baseURI);
// Handoff states (custom payload {type: "handoff", state}) in which a person
// has the conversation: the bot is paused and a turn gets no answer.
const WITH_PERSON = new Set(["joined", "agent", "with_agent"]);

const $ = (id) => document.getElementById(id);
const log = $("log");
const input = $("input");
const typing = $("typing");
const offline = $("offline");
const offlineText = $("offline-text");
const cityButton = $("city-button");
const cityLabel = $("city-label");
const cityMenu = $("city-menu");

/** The server could not be reached (or is restarting): retry later. */
class Unreachable extends Error {}

/** The server answered with a refusal meant for the citizen: show it, don't retry. */
class Refused extends Error {}

// localStorage throws in some private modes; the chat then lasts for this tab.
const storage = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      // Not persisted: acceptable, the conversation just won't survive a reload.
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      // Nothing was persisted then.
    }
  },
};

/** `bytes` random bytes as base64url. crypto.getRandomValues works on plain
 * http too (crypto.randomUUID only on https/localhost). */
function randomId(bytes) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

/** 24 random bytes: 32 characters, 192 bits, not guessable. */
function loadChatId() {
  const stored = storage.get(CHAT_ID_KEY);
  if (stored && CHAT_ID_PATTERN.test(stored)) return stored;
  const fresh = randomId(24);
  storage.set(CHAT_ID_KEY, fresh);
  return fresh;
}

let chatId = loadChatId();

// ---------------------------------------------------------------- rendering

/** An element whose text, if any, is set as text (never parsed as HTML). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function scrollToEnd() {
  log.scrollTop = log.scrollHeight;
}

/** A message row; appended to `parent` (the live log unless restoring history). */
function row(kind, parent = log) {
  const node = el("div", `msg msg--${kind}`);
  parent.append(node);
  return node;
}

function showUser(text, parent) {
  const bubble = el("p", "bubble", text);
  row("user", parent).append(bubble);
  return bubble;
}

function showNote(text, parent) {
  row("note", parent).append(el("p", "note", text));
  scrollToEnd();
}

/** A button that sends `payload` as the user's message, showing `title`.
 * Clicks are handled once for the whole log (see the listener below). */
function sendButton(title, payload, className) {
  const button = el("button", className, title);
  button.type = "button";
  button.dataset.send = payload || title;
  return button;
}

function isWebUrl(value) {
  return typeof value === "string" && /^https?:\/\//i.test(value);
}

/** A card button: either sends a payload, or opens a web page (e.g. a payment
 * page) in a new tab. */
function cardButton(spec) {
  if (!spec || typeof spec !== "object") return null;
  if (isWebUrl(spec.url)) {
    const link = el("a", "card__button", spec.title);
    link.href = spec.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }
  return sendButton(String(spec.title ?? ""), spec.payload, "card__button");
}

/** Renders the generic card format (docs/webchat.md):
 * {type: "card_list", title, items: [{title, subtitle, fields: [[label, value]], buttons}]}. */
function cardList(payload) {
  const section = el("section", "card-list");
  if (payload.title) {
    const heading = el("h2", "card-list__title", payload.title);
    section.append(heading);
    section.setAttribute("aria-label", String(payload.title));
  }
  for (const item of Array.isArray(payload.items) ? payload.items : []) {
    if (!item || typeof item !== "object") continue;
    const card = el("article", "card");
    if (item.title) card.append(el("h3", "card__title", item.title));
    if (item.subtitle) card.append(el("p", "card__subtitle", item.subtitle));
    const fields = (Array.isArray(item.fields) ? item.fields : []).filter(
      (field) => Array.isArray(field) && field.length === 2,
    );
    if (fields.length) {
      const list = el("dl", "card__fields");
      for (const [label, value] of fields) {
        const pair = el("div", "card__field");
        pair.append(el("dt", null, label), el("dd", null, value));
        list.append(pair);
      }
      card.append(list);
    }
    const buttons = (Array.isArray(item.buttons) ? item.buttons : [])
      .map(cardButton)
      .filter(Boolean);
    if (buttons.length) {
      const actions = el("div", "card__actions");
      actions.append(...buttons);
      card.append(actions);
    }
    section.append(card);
  }
  return section;
}

/** One bot message as the webhook or the history returns it: text, buttons,
 * image, attachment and/or a custom payload. Unknown custom types are not
 * shown, so the bot may send machine-only payloads. */
function showBot(message, parent = log) {
  // A handoff marker comes as its own message right after its text (Rasa's
  // output channels send a custom payload separately): it marks that row.
  if (message.custom?.type === "handoff") {
    noteHandoff(message.custom.state);
    markAgent(parent.lastElementChild, message.custom);
    return;
  }
  const node = row("bot", parent);
  if (message.text) node.append(el("p", "bubble", message.text));
  if (isWebUrl(message.image)) {
    const image = el("img", "bubble bubble--image");
    image.src = message.image;
    image.alt = "图片";
    node.append(image);
  }
  if (isWebUrl(message.attachment)) {
    const link = el("a", "bubble", "查看附件");
    link.href = message.attachment;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    node.append(link);
  }
  if (message.custom?.type === "card_list") node.append(cardList(message.custom));
  if (Array.isArray(message.buttons) && message.buttons.length) {
    const group = el("div", "quick-replies");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "可选回复");
    for (const button of message.buttons) {
      group.append(sendButton(String(button.title ?? button.payload ?? ""), button.payload));
    }
    node.append(group);
  }
  if (!node.childElementCount) node.remove();
}

/** Marks the bot row `node` as written by a person (人工客服 · name). */
function markAgent(node, handoff) {
  if (!node?.classList.contains("msg--bot")) return;
  if (handoff.state !== "agent" && handoff.state !== "joined") return;
  node.classList.add("msg--agent");
  const who = handoff.agent ? `人工客服 · ${handoff.agent}` : "人工客服";
  node.prepend(el("p", "agent-label", who));
}

/** Quick replies answer the latest question only: once the conversation moves
 * on, older ones are disabled so a stale choice can't be sent by accident.
 * Card buttons (pay this fine, …) and the welcome's starters stay usable. */
function retireQuickReplies(scope = log) {
  for (const button of scope.querySelectorAll(RETIRABLE)) button.disabled = true;
}

function setTyping(on) {
  typing.hidden = !on;
  if (on) scrollToEnd();
}

// ------------------------------------------------------------ networking

let wakeRetry = null;

/** Sleeps, unless the citizen presses 立即重试 or the browser comes back online. */
function backoffSleep(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wakeRetry = () => {
      clearTimeout(timer);
      resolve();
    };
  }).finally(() => {
    wakeRetry = null;
  });
}

function setOffline(waitMs) {
  offline.hidden = waitMs === null;
  if (waitMs !== null) {
    offlineText.textContent = `无法连接服务器，${Math.round(waitMs / 1000)} 秒后自动重试…`;
  }
}

async function fetchJson(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { ...options, signal: AbortSignal.timeout(REPLY_TIMEOUT_MS) });
  } catch (error) {
    if (error.name === "TimeoutError") throw new Refused("助手响应超时，请稍后再试。");
    throw new Unreachable();
  }
  if (RETRYABLE_STATUS.has(response.status)) throw new Unreachable();
  // A connection cut mid-answer leaves no JSON: treat it as unreachable.
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Refused(body?.error || `请求失败（${response.status}）`);
  if (body === null) throw new Unreachable();
  return body;
}

/** Runs `request` until the server answers, showing the offline banner
 * and doubling the wait (1 s … 30 s, with jitter) between tries. */
async function untilReachable(request, onWaiting = () => {}) {
  let wait = RETRY_FIRST_MS;
  for (;;) {
    try {
      const result = await request();
      setOffline(null);
      return result;
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      onWaiting();
      const jittered = wait * (0.8 + Math.random() * 0.4);
      setOffline(jittered);
      await backoffSleep(jittered);
      wait = Math.min(wait * 2, RETRY_MAX_MS);
    }
  }
}

// ------------------------------------------------------------- the outbox

const outbox = [];
let pumping = false;

/** Shows the citizen's message at once and queues it for the bot, in the
 * conversation open now; `done` (if any) runs once it was answered or refused. */
function send(text, shownAs = text, done = null) {
  retireQuickReplies();
  const bubble = showUser(shownAs);
  scrollToEnd();
  outbox.push({ text, shownAs, bubble, chat: chatId, messageId: randomId(12), done });
  pump();
}

async function pump() {
  if (pumping) return;
  pumping = true;
  await historyRestored;
  while (outbox.length) {
    const { text, shownAs, bubble, chat, messageId, done } = outbox[0];
    // The same message_id on every try: the server answers a resend, not runs it.
    const body = { message: text, message_id: messageId };
    // The history shows the button title rather than the payload it sent.
    if (shownAs !== text) body.metadata = { display_text: shownAs };
    let failure = null;
    try {
      const replies = await untilReachable(
        () => {
          setTyping(true);
          return fetchJson(WEBHOOK_URL, {
            method: "POST",
            headers: { "Content-Type": "application/json", [CHAT_ID_HEADER]: chat },
            body: JSON.stringify(body),
          });
        },
        () => {
          setTyping(false);
          bubble.classList.add("bubble--waiting");
        },
      );
      bubble.classList.remove("bubble--waiting");
      const messages = Array.isArray(replies) ? replies : [];
      for (const message of messages) showBot(message);
      // While a person has the conversation the bot is paused: their answer comes by push.
      if (!messages.length && !WITH_PERSON.has(handoffState)) {
        showNote("助手暂时没有回复，请换个说法试试。");
      }
    } catch (error) {
      bubble.classList.remove("bubble--waiting");
      showNote(error.message);
      failure = error;
    }
    setTyping(false);
    scrollToEnd();
    outbox.shift();
    done?.(failure);
  }
  pumping = false;
}

// ------------------------------------------------------------ the handoff

// Where the handoff stands (null: never asked, "ended": the bot is back), and
// the last stored event the page has seen (the history says which).
let handoffState = null;
let pushCursor = null;
let pushing = false;

function noteHandoff(state) {
  handoffState = state;
  if (state !== "ended") listenForStaff();
}

/** Long-polls for staff messages while a handoff is open, in this chat only. */
async function listenForStaff() {
  if (pushing || pushCursor === null) return;
  pushing = true;
  const chat = chatId;
  while (handoffState !== null && handoffState !== "ended" && chat === chatId) {
    try {
      const url = new URL(UPDATES_URL);
      url.searchParams.set("after", String(pushCursor));
      const data = await untilReachable(() =>
        fetchJson(url, { headers: { [CHAT_ID_HEADER]: chat } }),
      );
      if (chat !== chatId) break;
      if (Number.isInteger(data?.cursor)) pushCursor = data.cursor;
      const messages = Array.isArray(data?.messages) ? data.messages : [];
      if (messages.length) retireQuickReplies();
      for (const message of messages) showBot(message);
      if (messages.length) scrollToEnd();
    } catch (error) {
      showNote(error.message);
      await backoffSleep(RETRY_MAX_MS);
    }
  }
  pushing = false;
  // The citizen started a new chat (结束并清除) and asked for a person there meanwhile.
  if (chat !== chatId && handoffState !== null && handoffState !== "ended") listenForStaff();
}

// ------------------------------------------------------------ the history

/** Puts the conversation so far between the welcome and anything sent
 * meanwhile (the citizen may type while the server is still unreachable). */
async function restoreHistory(welcome) {
  let data;
  try {
    data = await untilReachable(() =>
      fetchJson(HISTORY_URL, { headers: { [CHAT_ID_HEADER]: chatId } }),
    );
  } catch (error) {
    showNote(error.message);
    return;
  }
  if (Number.isInteger(data?.cursor)) pushCursor = data.cursor;
  const restored = document.createDocumentFragment();
  for (const message of Array.isArray(data?.messages) ? data.messages : []) {
    if (message.from === "user") {
      retireQuickReplies(restored);
      showUser(message.text, restored);
    } else {
      showBot(message, restored);
    }
  }
  if (outbox.length) retireQuickReplies(restored);
  welcome.after(restored);
  scrollToEnd();
}

// --------------------------------------------------------------- controls

function setCity(city) {
  cityLabel.textContent = city;
  for (const option of cityMenu.querySelectorAll("button")) {
    option.setAttribute("aria-pressed", String(option.textContent === city));
  }
}

function toggleCityMenu(open) {
  cityMenu.hidden = !open;
  cityButton.setAttribute("aria-expanded", String(open));
  if (open) {
    const current = cityMenu.querySelector('[aria-pressed="true"]');
    (current || cityMenu.querySelector("button")).focus();
  }
}

for (const city of CITIES) {
  const option = el("button", "city-menu__option", city);
  option.type = "button";
  option.setAttribute("aria-pressed", "false");
  option.addEventListener("click", () => {
    toggleCityMenu(false);
    cityButton.focus();
    setCity(city);
    storage.set(CITY_KEY, city);
    send(`/set_city{"city": ${JSON.stringify(city)}}`, `切换到${city}`);
  });
  cityMenu.append(option);
}

const savedCity = storage.get(CITY_KEY);
if (CITIES.includes(savedCity)) setCity(savedCity);

cityButton.addEventListener("click", () => toggleCityMenu(cityMenu.hidden));
cityMenu.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    toggleCityMenu(false);
    cityButton.focus();
  }
});
document.addEventListener("click", (event) => {
  if (!cityMenu.hidden && !event.target.closest(".city-picker")) toggleCityMenu(false);
});

$("handoff").addEventListener("click", () => send("/human_handoff", "转人工"));

/** 结束并清除: the bot erases the conversation, then this browser forgets its
 * id and city and shows a fresh page; the next message starts a new one. */
$("end-chat").addEventListener("click", () => {
  // The bot is paused while a person has the conversation: it could not erase it now.
  if (WITH_PERSON.has(handoffState)) {
    showNote("人工客服正在为您服务，暂时不能清除记录。请在客服结束服务后再点「结束并清除」。");
    return;
  }
  send(ERASE_PAYLOAD, "结束并清除", (failure) => {
    storage.remove(CHAT_ID_KEY);
    storage.remove(CITY_KEY);
    chatId = loadChatId();
    handoffState = null;
    log.replaceChildren($("welcome").content.cloneNode(true));
    cityLabel.textContent = "选择城市";
    for (const option of cityMenu.querySelectorAll("button")) {
      option.setAttribute("aria-pressed", "false");
    }
    showNote(
      failure
        ? "本机已忘记这次对话，但服务器未确认删除记录，请稍后在新对话中说「删除我的记录」。"
        : "对话已结束，记录已清除。下一位可以开始新的对话。",
    );
  });
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send(text);
});

// Welcome chips, quick replies and card buttons all carry data-send.
log.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-send]");
  if (!button || button.disabled) return;
  send(button.dataset.send, button.textContent);
  // A quick reply is disabled once used, which drops keyboard focus; put it
  // in the input. Not after a tap (detail > 0): that would pop up the phone's
  // keyboard.
  if (event.detail === 0) input.focus();
});

$("retry-now").addEventListener("click", () => wakeRetry?.());
window.addEventListener("online", () => wakeRetry?.());

// ------------------------------------------------------------------ start

log.append($("welcome").content.cloneNode(true));
const historyRestored = restoreHistory(log.lastElementChild);
