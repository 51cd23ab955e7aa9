// The kyc-mock console: a page over the admin API (/_admin/), refreshed every second.
// Hand-written, no dependency; every value from the server is put in the page as text, never as
// markup.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const REFRESH_MS = 1000;
let selected = null;

function api(path, body) {
  const init = { headers: { "x-admin-token": TOKEN }, cache: "no-store" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then(async (response) => {
    const json = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = json.error && json.error.message ? json.error.message : response.statusText;
      throw new Error(response.status + " " + message);
    }
    return json.data;
  });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function statusBadge(status) {
  return el("span", { class: "status " + String(status).toLowerCase() }, status);
}

function verdict(delivery) {
  if (delivery.dropped) return el("span", { class: "status not_validated" }, "dropped (" + delivery.dropped + ")");
  if (delivery.delivered) return el("span", { class: "status validated" }, "delivered " + delivery.last_status);
  const last = delivery.attempts[delivery.attempts.length - 1] || {};
  return el("span", { class: "status not_validated" }, last.status ? "answered " + last.status : "failed");
}

function resendButton(delivery) {
  const button = el("button", { type: "button", class: "resend", "data-event": delivery.event_id }, "Resend");
  button.addEventListener("click", () => {
    api("/_admin/webhooks/" + encodeURIComponent(delivery.event_id) + "/resend", {})
      .then(() => refresh())
      .catch((e) => alert(e.message));
  });
  return button;
}

function renderSessions(sessions) {
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren(
    ...sessions.map((s) => {
      const row = el(
        "tr",
        { "data-session": s.id, class: s.id === selected ? "selected" : "" },
        el("td", {}, el("code", {}, s.id)),
        el("td", { class: "session-status" }, statusBadge(s.status)),
        el("td", {}, s.kind),
        el("td", {}, s.company_id && s.user_id ? s.user_id + " @ " + s.company_id : s.user_id || s.company_id || ""),
        el("td", {}, s.country),
        el("td", {}, s.files),
        el("td", {}, s.created_at)
      );
      row.addEventListener("click", () => {
        selected = s.id;
        refresh();
      });
      return row;
    })
  );
  document.getElementById("no-sessions").hidden = sessions.length > 0;
}

function renderDetail(s) {
  const section = document.getElementById("detail");
  section.hidden = false;
  document.getElementById("detail-id").textContent = s.id;
  const status = document.getElementById("detail-status");
  status.textContent = s.status + (s.reason ? " (" + s.reason + ")" : "");
  status.className = "status " + String(s.status).toLowerCase();
  const subject = [s.kind.toUpperCase(), s.flow_type, s.country, s.user_id, s.company_id]
    .filter(Boolean)
    .join(" · ");
  document.getElementById("detail-subject").textContent =
    subject + (s.required_again.length ? " · awaiting " + s.required_again.join(", ") : "");
  const final = !["IN_PROGRESS", "PROCESSING"].includes(s.status);
  for (const id of ["validate-button", "reject-button", "require-button"]) {
    document.getElementById(id).disabled = final;
  }
  document.getElementById("detail-steps").replaceChildren(
    ...s.steps.map((step) => el("li", {}, step.name + " ", statusBadge(step.status)))
  );
  document.getElementById("detail-files").replaceChildren(
    ...s.files.map((f) => {
      const card = el("figure", { class: "file" });
      if (f.preview) {
        const src = "/_admin/sessions/" + encodeURIComponent(s.id) + "/files/" +
          encodeURIComponent(f.id) + "?token=" + encodeURIComponent(TOKEN);
        card.append(el("img", { src, alt: f.type_document }));
      } else {
        card.append(el("div", { class: "no-preview" }, f.content_type));
      }
      card.append(el("figcaption", {}, f.type_document + " · " + f.entity_id + " · " + f.size + " · " + f.file_name));
      return card;
    })
  );
  document.getElementById("detail-timeline").replaceChildren(
    ...s.timeline.map((t) => el("li", {}, el("time", {}, t.at), " " + t.what))
  );
  document.querySelector("#detail-webhooks tbody").replaceChildren(
    ...s.webhooks.map((d) =>
      el("tr", {}, el("td", {}, el("code", {}, d.event_id)), el("td", {}, d.kind),
        el("td", { class: "verdict" }, verdict(d)), el("td", {}, d.attempts.length),
        el("td", {}, resendButton(d)))
    )
  );
}

function renderWebhooks(deliveries) {
  document.querySelector("#webhooks tbody").replaceChildren(
    ...deliveries.map((d) =>
      el("tr", {}, el("td", {}, el("code", {}, d.event_id)), el("td", {}, d.kind),
        el("td", {}, el("code", {}, d.session_id)), el("td", { class: "verdict" }, verdict(d)),
        el("td", {}, d.attempts.length), el("td", {}, resendButton(d)))
    )
  );
}

let refreshing = false;
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const [sessions, deliveries] = await Promise.all([api("/_admin/sessions"), api("/_admin/webhooks")]);
    renderSessions(sessions);
    renderWebhooks(deliveries);
    if (selected) renderDetail(await api("/_admin/sessions/" + encodeURIComponent(selected)));
    document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("refreshed").textContent = "cannot reach the simulator: " + e.message;
  } finally {
    refreshing = false;
  }
}

function decide(body) {
  const result = document.getElementById("decide-result");
  api("/_admin/sessions/" + encodeURIComponent(selected) + "/outcome", body)
    .then((s) => {
      result.textContent = "decided: " + s.status;
      refresh();
    })
    .catch((e) => (result.textContent = e.message));
}

function setUp() {
  api("/_admin").then((info) => {
    document.getElementById("simulator").textContent =
      info.base_url + " · client " + info.client_id + " · audience " + info.audience;
  }).catch(() => {});
  document.getElementById("validate-button").addEventListener("click", () => decide({ outcome: "validated" }));
  document.getElementById("reject-button").addEventListener("click", () =>
    decide({ outcome: "not_validated", reason: document.getElementById("reject-reason").value.trim() })
  );
  document.getElementById("require-button").addEventListener("click", () =>
    decide({
      outcome: "require_files",
      documents: document.getElementById("require-documents").value.split(",").map((d) => d.trim()).filter(Boolean),
      reason: "ILLEGIBLE_DOCUMENT",
    })
  );
  document.getElementById("fault-button").addEventListener("click", () => {
    const kind = document.getElementById("fault-kind").value;
    api("/_admin/faults", {
      route: document.getElementById("fault-route").value,
      kind,
      status: Number(document.getElementById("fault-status").value),
      delay_ms: Number(document.getElementById("fault-delay").value),
      head_after_ms: Number(document.getElementById("fault-delay").value),
      body_over_ms: Number(document.getElementById("fault-delay").value),
      times: Number(document.getElementById("fault-times").value),
    })
      .then((r) => (document.getElementById("fault-result").textContent = r.pending + " fault(s) pending"))
      .catch((e) => (document.getElementById("fault-result").textContent = e.message));
  });
  document.getElementById("fault-clear").addEventListener("click", () => {
    api("/_admin/faults/clear", {})
      .then(() => (document.getElementById("fault-result").textContent = "no fault pending"))
      .catch((e) => (document.getElementById("fault-result").textContent = e.message));
  });
  document.getElementById("clock-button").addEventListener("click", () => {
    api("/_admin/clock", { advance_seconds: Number(document.getElementById("clock-seconds").value) })
      .then((r) => {
        document.getElementById("clock-result").textContent = "simulator time " + r.now;
        refresh();
      })
      .catch((e) => (document.getElementById("clock-result").textContent = e.message));
  });
  refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", setUp);
