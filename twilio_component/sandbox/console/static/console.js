// The sandbox console: plain JavaScript, no framework, no build step. It reads and drives the
// sandbox through its control API only (/_sandbox/…), with the console's token, and follows
// the sandbox live through the server-sent events of GET /_sandbox/events.
"use strict";

(() => {
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const MAX_REQUESTS = 200;
  const SHOWN_REQUESTS = 50;
  const SHOWN_THREADS = 200;
  const RENDER_MS = 50;
  const state = {
    messages: new Map(), // sid → record (GET /_sandbox/messages shape)
    faults: [],
    requests: [], // oldest first
    numbers: [], // the sandbox's numbers: phone_number, sms_url…
    verifications: [], // GET /_sandbox/verifications: sid, to, channel, code, status…
    calls: [], // GET /_sandbox/calls: each call with its status_history and transcript
    selected: null, // thread key
    query: "",
    loading: null, // live request events seen while a snapshot loads
  };
  const $ = (id) => document.getElementById(id);

  // -- the control API ------------------------------------------------------------------------

  async function control(method, path, body) {
    const options = { method, headers: { "X-Sandbox-Console-Token": token } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(`/_sandbox/${path}`, options);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (error) {
      data = { error: text };
    }
    return { status: response.status, ok: response.ok, data };
  }

  function problem(answer) {
    const said = answer.data && answer.data.error ? answer.data.error : "no explanation";
    return `The sandbox answered ${answer.status}: ${said}`;
  }

  // -- conversations --------------------------------------------------------------------------

  function ends(message) {
    // [the sandbox's side, the other party] of a message, as a phone would pair them.
    if (message.direction === "inbound") return [message.to, message.from];
    return [message.from || message.messaging_service_sid || "(no sender yet)", message.to];
  }

  function keyOf(own, other) {
    return `${own} ${other}`;
  }

  function upsert(record) {
    // Histories only grow: a record older than the one held (a snapshot racing an event) loses.
    const held = state.messages.get(record.sid);
    const heldSteps = held ? (held.status_history || []).length : -1;
    if ((record.status_history || []).length < heldSteps) return;
    arrival.set(record.sid, held ? arrival.get(record.sid) : ++arrived);
    state.messages.set(record.sid, record);
  }

  // Messages created in the same millisecond keep the order the sandbox told them in.
  const arrival = new Map();
  let arrived = 0;
  function byCreated(a, b) {
    return (a.created_at || "").localeCompare(b.created_at || "") ||
      (arrival.get(a.sid) || 0) - (arrival.get(b.sid) || 0);
  }

  function callEnds(call) {
    // [the sandbox's side, the other party] of a call, as of a message.
    if (call.direction === "inbound") return [call.to, call.from];
    return [call.from, call.to];
  }

  function callStarted(call) {
    const first = (call.status_history || [])[0];
    return first ? first.at : "";
  }

  function threads() {
    const found = new Map();
    const thread = (own, other) => {
      const key = keyOf(own, other);
      if (!found.has(key)) found.set(key, { key, own, other, messages: [], calls: [] });
      return found.get(key);
    };
    for (const message of state.messages.values()) thread(...ends(message)).messages.push(message);
    for (const call of state.calls) thread(...callEnds(call)).calls.push(call);
    const list = [...found.values()];
    for (const each of list) each.messages.sort(byCreated);
    const newest = (each) => {
      const message = each.messages[each.messages.length - 1];
      const call = each.calls[each.calls.length - 1];
      const messageAt = message ? message.created_at || "" : "";
      return call && callStarted(call) > messageAt ? callStarted(call) : messageAt;
    };
    list.sort((a, b) => newest(b).localeCompare(newest(a)));
    return list;
  }

  function matches(thread, query) {
    if (!query) return true;
    const text = query.toLowerCase();
    const digits = query.replace(/[^0-9+]/g, "");
    const numbers = [thread.own, thread.other];
    if (numbers.some((number) => String(number).toLowerCase().includes(text))) return true;
    if (digits.length >= 3 && numbers.some((number) => String(number).includes(digits))) {
      return true;
    }
    return thread.messages.some((message) => (message.body || "").toLowerCase().includes(text));
  }

  // -- rendering ------------------------------------------------------------------------------

  function element(tag, attributes = {}, ...children) {
    const made = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "className") made.className = value;
      else if (name === "text") made.textContent = value;
      else made.setAttribute(name, value);
    }
    for (const child of children) if (child) made.append(child);
    return made;
  }

  function clock(iso) {
    if (!iso) return "";
    const moment = new Date(iso);
    const pad = (n, width = 2) => String(n).padStart(width, "0");
    return `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}` +
      `.${pad(moment.getMilliseconds(), 3)}`;
  }

  function timeElement(iso) {
    return element("time", { datetime: iso || "", text: clock(iso) });
  }

  // Events can come by the thousand (a campaign): draw at most every RENDER_MS.
  let renderPending = false;
  function render() {
    if (renderPending) return;
    renderPending = true;
    window.setTimeout(() => {
      renderPending = false;
      renderNow();
    }, RENDER_MS);
  }

  function renderNow() {
    const all = threads();
    const shown = all.filter((thread) => matches(thread, state.query));
    if (!all.some((thread) => thread.key === state.selected)) {
      state.selected = shown.length ? shown[0].key : null;
    }
    renderThreads(all, shown);
    renderConversation(all.find((thread) => thread.key === state.selected) || null);
    renderFaults();
    renderRequests();
  }

  function renderThreads(all, shown) {
    const list = $("thread-list");
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.thread : undefined;
    list.replaceChildren();
    for (const thread of shown.slice(0, SHOWN_THREADS)) {
      const last = thread.messages[thread.messages.length - 1];
      const count = thread.messages.length;
      const calls = thread.calls.length ? ` · ${thread.calls.length} call${thread.calls.length === 1 ? "" : "s"}` : "";
      const button = element(
        "button",
        { type: "button", className: "thread", "data-thread": thread.key },
        element("span", { className: "who", text: thread.other }),
        element("span", { className: "via", text: `with ${thread.own} · ${count} message${count === 1 ? "" : "s"}${calls}` }),
        element("span", { className: "last", text: last ? last.body || "(media only)" : "(a call)" }),
      );
      button.setAttribute("aria-current", String(thread.key === state.selected));
      button.addEventListener("click", () => {
        state.selected = thread.key;
        renderNow();
      });
      list.append(element("li", {}, button));
      if (thread.key === focused) button.focus();
    }
    const counted = $("thread-count");
    if (!all.length) counted.textContent = "No messages yet.";
    else if (state.query) counted.textContent = `${shown.length} of ${all.length} conversations match.`;
    else counted.textContent = `${all.length} conversation${all.length === 1 ? "" : "s"}.`;
    if (shown.length > SHOWN_THREADS) {
      counted.textContent += ` The newest ${SHOWN_THREADS} are listed: search to find the others.`;
    }
  }

  function fact(name, value) {
    return element("div", {}, element("dt", { text: name }), element("dd", { text: value }));
  }

  function renderMessage(message) {
    const outbound = message.direction !== "inbound";
    const price = message.price ? `${message.price} ${message.price_unit || ""}`.trim()
      : (outbound ? "not yet charged" : "none");
    const facts = element(
      "dl",
      { className: "facts" },
      fact("Direction", message.direction),
      fact("Segments", String(message.num_segments)),
      fact("Encoding", message.encoding || "unknown"),
      fact("Price", price),
      fact("SID", message.sid),
    );
    const history = element("ol", { className: "history", "aria-label": "Status history" });
    for (const step of message.status_history || []) {
      history.append(
        element("li", { className: step.status }, `${step.status} `, timeElement(step.at)),
      );
    }
    const item = element(
      "li",
      { className: `message ${outbound ? "outbound" : "inbound"}`, "data-sid": message.sid },
      element("p", { className: "body", text: message.body || "(no text)" }),
      facts,
      history,
    );
    if (message.error_code) {
      item.append(element("p", {
        className: "error",
        text: `Error ${message.error_code}: ${message.error_message || ""}`,
      }));
    }
    return item;
  }

  function describeStep(step) {
    switch (step.verb) {
      case "Say": return `Said: "${step.text}"`;
      case "Gather": return step.digits ? `Pressed ${step.digits}` : "Gathered no digits";
      case "Play": return `Played ${step.url}`;
      case "Pause": return `Paused ${step.length} s`;
      case "Dial": return `Dialled ${step.number}`;
      case "Error": return `Error ${step.code}`;
      default: return step.verb;
    }
  }

  function renderCall(call) {
    const outbound = call.direction !== "inbound";
    const history = element("ol", { className: "history", "aria-label": "Call status history" });
    for (const step of call.status_history || []) {
      history.append(element("li", { className: step.status }, `${step.status} `, timeElement(step.at)));
    }
    const transcript = element("ol", { className: "transcript", "aria-label": "Transcript" });
    for (const step of call.transcript || []) transcript.append(element("li", { text: describeStep(step) }));
    return element(
      "li",
      { className: `call ${outbound ? "outbound" : "inbound"}`, "data-sid": call.sid },
      element("p", { className: "body", text: `${outbound ? "Call to" : "Call from"} ${outbound ? call.to : call.from}: ${call.status}` }),
      element(
        "dl",
        { className: "facts" },
        fact("Duration", call.duration ? `${call.duration} s` : "not ended"),
        fact("Direction", call.direction),
        fact("SID", call.sid),
      ),
      history,
      transcript,
    );
  }

  function renderVerification(verification) {
    const checks = verification.checks === 1 ? "1 check" : `${verification.checks} checks`;
    return element(
      "li",
      { className: `verification ${verification.status}`, "data-sid": verification.sid },
      element("p", { className: "body", text: `Verify code ${verification.code} (${verification.channel})` }),
      element(
        "dl",
        { className: "facts" },
        fact("Status", verification.status),
        fact("Checks", checks),
        fact("Service", verification.service_sid),
        fact("SID", verification.sid),
      ),
    );
  }

  function renderConversation(thread) {
    const title = $("conversation-title");
    const numbers = $("conversation-numbers");
    const list = $("message-list");
    const form = $("reply-form");
    list.replaceChildren();
    if (!thread) {
      title.textContent = "No conversation selected";
      numbers.textContent = state.messages.size
        ? "No conversation matches the search."
        : "Send a message to the sandbox (for example with twilio-component send) and it " +
          "shows up here at once.";
      form.hidden = true;
      return;
    }
    title.textContent = `Conversation with ${thread.other}`;
    numbers.textContent = `Between the sandbox's ${thread.own} and ${thread.other}; ` +
      "outbound messages on the right, inbound on the left.";
    for (const message of thread.messages) list.append(renderMessage(message));
    for (const call of thread.calls) list.append(renderCall(call));
    for (const verification of state.verifications) {
      if (verification.to === thread.other) list.append(renderVerification(verification));
    }
    form.hidden = false;
    const canReply = /^(whatsapp:)?\+[1-9][0-9]{1,14}$/.test(thread.own) &&
      /^(whatsapp:)?\+[1-9][0-9]{1,14}$/.test(thread.other);
    $("send-reply").disabled = !canReply;
    const number = state.numbers.find((n) => n.phone_number === thread.own.replace(/^whatsapp:/, ""));
    const hook = number && number.sms_url
      ? `Twilio's signed webhook goes to ${number.sms_url}.`
      : `${thread.own} has no SmsUrl: the message is stored, no webhook is called.`;
    $("reply-hint").textContent = canReply
      ? `Sent as ${thread.other} to ${thread.own}, as an inbound message. ${hook} Ctrl+Enter sends.`
      : "A reply needs two phone numbers: this conversation has no sender number yet.";
  }

  function describeFault(fault) {
    const next = `the next ${fault.count === 1 ? "create" : `${fault.count} creates`}`;
    switch (fault.kind) {
      case "rate_limit":
        return `Rate limit: ${next} answer 429 (code 20429), nothing created`;
      case "fail":
        return `Fail: ${next} answer 500, nothing created`;
      case "undelivered":
        return `Messages to ${fault.to} end undelivered (error ${fault.error_code})`;
      default:
        return `${fault.kind.replace(/_/g, " ")}: ${next}`;
    }
  }

  function renderFaults() {
    const list = $("armed-list");
    list.replaceChildren();
    if (!state.faults.length) {
      list.append(element("li", { className: "muted", text: "Nothing armed." }));
      const said = $("fault-result");
      if (said && said.textContent.startsWith("Armed:")) said.textContent = ""; // used up
    }
    for (const fault of state.faults) list.append(element("li", { text: describeFault(fault) }));
  }

  function shortPath(path) {
    return path
      .replace(/^\/2010-04-01\/Accounts\/AC[0-9a-fA-F]{32}\//, "")
      .replace(/\.json$/, "")
      .replace(/\b((?:SM|MM|PN)[0-9a-f]{4})[0-9a-f]{28}\b/g, "$1…");
  }

  function renderRequests() {
    const rows = $("request-rows");
    rows.replaceChildren();
    const newest = state.requests.slice(-SHOWN_REQUESTS).reverse();
    if (!newest.length) {
      rows.append(element("tr", {}, element("td", { colspan: "4", className: "muted", text: "No API requests yet." })));
    }
    for (const answer of newest) {
      const what = `${answer.method} ${shortPath(answer.path)}` + (answer.to ? ` to ${answer.to}` : "");
      const status = answer.status === null ? "dropped" : String(answer.status);
      const bad = answer.status === null || answer.status >= 400;
      rows.append(element(
        "tr",
        { "data-status": status },
        element("td", {}, timeElement(answer.at)),
        element("td", { className: bad ? "status-error" : "status-ok", text: status }),
        element("td", { text: answer.error_code ? String(answer.error_code) : "" }),
        element("td", { className: "what", text: what }),
      ));
    }
  }

  function announce(text) {
    const announcer = $("announcer");
    announcer.replaceChildren(element("p", { text }));
  }

  // -- live events ----------------------------------------------------------------------------

  function setConnection(stateName, text) {
    const shown = $("connection");
    shown.dataset.state = stateName;
    shown.textContent = text;
  }

  async function loadNumbers() {
    const answer = await control("GET", "numbers");
    if (!answer.ok) return;
    state.numbers = answer.data.numbers;
    const select = $("compose-to");
    const chosen = select.value;
    select.replaceChildren(...state.numbers.map((n) =>
      element("option", { value: n.phone_number, text: n.phone_number })));
    if (state.numbers.some((n) => n.phone_number === chosen)) select.value = chosen;
  }

  async function loadSnapshot() {
    state.loading = [];
    const [messages, faults, requests, verifications, calls] = await Promise.all([
      control("GET", "messages"),
      control("GET", "faults"),
      control("GET", "requests"),
      control("GET", "verifications"),
      control("GET", "calls"),
      loadNumbers(),
    ]);
    if (calls.ok) state.calls = calls.data.calls;
    if (verifications.ok) state.verifications = verifications.data.verifications;
    if (messages.ok) for (const record of messages.data.messages) upsert(record);
    if (faults.ok) state.faults = faults.data.faults;
    if (requests.ok) {
      const listed = requests.data.requests;
      const seen = new Set(listed.map((answer) => JSON.stringify(answer)));
      state.requests = listed.concat(state.loading.filter((a) => !seen.has(JSON.stringify(a))));
    }
    state.loading = null;
    render();
  }

  function connect() {
    const events = new EventSource(`/_sandbox/events?token=${encodeURIComponent(token)}`);
    events.addEventListener("open", () => {
      // (Re)connected: what is held may be stale (cleared while away); the snapshot read
      // now and the events from now on are the whole truth.
      state.messages.clear();
      arrival.clear();
      setConnection("live", "Live: updates arrive as they happen");
      loadSnapshot().catch(() => setConnection("down", "Could not read the sandbox"));
    });
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED) {
        setConnection("down", "Disconnected: reload the page (is the sandbox still running?)");
      } else {
        setConnection("connecting", "Reconnecting…");
      }
    });
    const on = (kind, handle) => events.addEventListener(kind, (event) => {
      handle(JSON.parse(event.data));
      render();
    });
    on("message", (record) => {
      upsert(record);
      announce(`Message to ${record.to}: ${record.body}`);
    });
    on("inbound", (record) => {
      upsert(record);
      announce(`Message from ${record.from} to ${record.to}: ${record.body}`);
    });
    on("status", (record) => upsert(record));
    on("removed", (gone) => {
      state.messages.delete(gone.sid);
      arrival.delete(gone.sid);
    });
    on("cleared", () => {
      state.verifications = [];
      state.calls = [];
      state.messages.clear();
      arrival.clear();
    });
    on("faults", (listing) => { state.faults = listing.faults; });
    on("verifications", (listing) => { state.verifications = listing.verifications; });
    on("calls", (listing) => { state.calls = listing.calls; });
    on("request", (answer) => {
      state.requests.push(answer);
      if (state.loading) state.loading.push(answer);
      if (state.requests.length > MAX_REQUESTS) state.requests.splice(0, state.requests.length - MAX_REQUESTS);
    });
    on("requests_cleared", () => { state.requests = []; });
  }

  // -- controls -------------------------------------------------------------------------------

  function selectedThread() {
    return threads().find((thread) => thread.key === state.selected) || null;
  }

  function showWebhook(answer, thread) {
    const box = $("webhook-answer");
    box.replaceChildren();
    $("webhook").hidden = false;
    if (!answer.ok) {
      box.append(element("p", { className: "error", text: problem(answer) }));
      return;
    }
    box.append(element("p", { text: `Stored as ${answer.data.sid} (inbound, received).` }));
    const deliveries = answer.data.deliveries || [];
    if (!deliveries.length) {
      box.append(element("p", {
        text: `No webhook was called: ${thread.own} has no SmsUrl. Point it at your app ` +
          "(twilio-component listen does) to see its answer here.",
      }));
    }
    for (const delivery of deliveries) {
      const who = delivery.fallback ? "The fallback URL" : "The webhook";
      if (delivery.status === null) {
        box.append(element("p", { className: "error", text: `${who} failed: ${delivery.error}` }));
      } else {
        box.append(element("p", { text: `${who} answered ${delivery.status} (${delivery.content_type || "no content type"}):` }));
        box.append(element("pre", { text: delivery.body || "(empty)" }));
        if (delivery.error) box.append(element("p", { className: "error", text: delivery.error }));
      }
      if (delivery.error_code) {
        box.append(element("p", { className: "error", text: `Twilio would log error ${delivery.error_code}.` }));
      }
      const replies = delivery.replies || [];
      if (replies.length) {
        box.append(element("p", { text: `Its TwiML sent ${replies.length} ${replies.length === 1 ? "reply" : "replies"}: ${replies.join(", ")}.` }));
      }
      for (const problem of delivery.reply_errors || []) {
        box.append(element("p", { className: "error", text: `A <Message> was not sent (error ${problem.code}): ${problem.message}` }));
      }
    }
  }

  async function receive(from, to, body) {
    // An inbound message, as if the phone `from` texted the sandbox number `to`.
    await loadNumbers(); // the number's SmsUrl may have changed since the page loaded
    const answer = await control("POST", "inbound", { From: from, To: to, Body: body });
    showWebhook(answer, { own: to, other: from });
    return answer;
  }

  async function sendReply(event) {
    event.preventDefault();
    const thread = selectedThread();
    const box = $("reply");
    const body = box.value;
    if (!thread || !body.trim()) return;
    const button = $("send-reply");
    button.disabled = true;
    try {
      const answer = await receive(thread.other, thread.own, body);
      if (answer.ok) box.value = "";
    } finally {
      button.disabled = false;
      box.focus();
    }
  }

  async function callSandbox(event) {
    event.preventDefault();
    const from = $("call-from").value.trim();
    const to = $("compose-to").value;
    const digits = $("call-digits").value.trim();
    const result = $("call-result");
    if (!from || !to) return;
    const answer = await control("POST", "calls/inbound", { From: from, To: to, Digits: digits || undefined });
    if (answer.ok) {
      result.textContent = `Called ${to} from ${from}: the call ended ${answer.data.status}.`;
      state.selected = keyOf(to, from);
      const calls = await control("GET", "calls");
      if (calls.ok) state.calls = calls.data.calls;
      render();
    } else {
      result.textContent = problem(answer);
    }
  }

  async function compose(event) {
    event.preventDefault();
    const from = $("compose-from").value.trim();
    const to = $("compose-to").value;
    const body = $("compose-body").value;
    const result = $("compose-result");
    if (!from || !to || !body.trim()) return;
    const answer = await receive(from, to, body);
    if (answer.ok) {
      $("compose-body").value = "";
      result.textContent = `Sent from ${from} to ${to}: see the conversation.`;
      state.selected = keyOf(to, from);
      render();
    } else {
      result.textContent = problem(answer);
    }
  }

  async function arm(fault, said) {
    const result = $("fault-result");
    const answer = await control("POST", "faults", fault);
    if (answer.ok) {
      state.faults = answer.data.faults;
      result.textContent = said;
      render();
    } else {
      result.textContent = problem(answer);
    }
  }

  function wire() {
    $("search-form").addEventListener("submit", (event) => event.preventDefault());
    $("search").addEventListener("input", (event) => {
      state.query = event.target.value.trim();
      const visible = threads().filter((thread) => matches(thread, state.query));
      if (!visible.some((thread) => thread.key === state.selected)) {
        state.selected = visible.length ? visible[0].key : null;
      }
      renderNow();
    });
    $("reply-form").addEventListener("submit", sendReply);
    $("compose-form").addEventListener("submit", compose);
    $("call-form").addEventListener("submit", callSandbox);
    $("reply").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        $("reply-form").requestSubmit();
      }
    });
    $("rate-limit").addEventListener("click", () =>
      arm({ kind: "rate_limit" }, "Armed: the next create answers 429 (20429)."));
    $("fail-next").addEventListener("click", () =>
      arm({ kind: "fail" }, "Armed: the next create answers 500 and creates nothing."));
    $("undelivered-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const to = $("undelivered-to").value.trim();
      if (to) arm({ kind: "undelivered", to }, `Armed: messages to ${to} end undelivered.`);
    });
    $("disarm").addEventListener("click", async () => {
      const answer = await control("DELETE", "faults");
      $("fault-result").textContent = answer.ok ? "Every fault disarmed." : problem(answer);
      if (answer.ok) {
        state.faults = [];
        render();
      }
    });
    $("clear-all").addEventListener("click", async () => {
      const answer = await control("POST", "reset");
      if (answer.ok) {
        state.messages.clear();
        state.requests = [];
        state.faults = [];
        state.selected = null;
        $("webhook").hidden = true;
        announce("The sandbox was reset: every message cleared.");
        render();
      } else {
        announce(problem(answer));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire();
    renderNow();
    connect();
  });
})();
