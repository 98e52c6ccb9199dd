// The incident window: what was reported, its references, files, comments and history; the
// fields a viewer may change; a comment with files and references; and Save/Send, which sends
// one saveIncident with expectedVersion. A version conflict shows what changed meanwhile and
// offers to re-apply this window's edits to the new version.
import { GraphQLError, gql, send, subscribe } from "./api.js";
import { h, replace } from "./dom.js";
import { formatDate, t } from "./i18n.js";
import { isManager, page } from "./layout.js";

const INCIDENT = `
  query Incident($number: Int!) {
    incident(number: $number) {
      id number description type impact urgency priority status dueDate isOverdue task version
      allowedTransitions
      reporter { id name }
      assignedTo { id name }
      supportedBy { id name }
      watchers { id name }
      references { id label url addedAt addedBy { name } }
      attachments { id filename size url }
      comments(first: 100) {
        nodes { id body createdAt author { name } attachments { id filename size url } }
      }
      history(first: 100) { nodes { id kind at field from to actor { name } } }
    }
  }`;
const PEOPLE = `query People { users(role: [AGENT, MANAGER, ADMIN], first: 100) { id name } }`;
const SAVE = `
  mutation Save($input: SaveIncidentInput!) {
    saveIncident(input: $input) {
      incident { number version }
      errors { code message field }
    }
  }`;
const UPDATES = `
  subscription Window { incidentUpdates { incident { number version } events { actor { name } } } }`;

const number = Number(location.pathname.split("/").pop());
const { viewer, main } = await page("incident", { number });
const manager = isManager(viewer);
const people = manager ? (await gql(PEOPLE)).users : [];
const IMPACTS = ["HIGH", "MEDIUM", "LOW"];

let base = await load();
if (base === null) {
  replace(main, h("h1", {}, t("incident", { number })), h("p", { role: "alert" }, t("notFound", { number })));
  await new Promise(() => {}); // Nothing more on this page: the rest never runs.
}

async function load() {
  return (await gql(INCIDENT, { number })).incident;
}

// --- Dates: the form shows local time; the API wants an instant with an offset.
const pad = (n) => String(n).padStart(2, "0");
function localInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// --- The controls: fields (rebuilt for each version), and the comment (kept across them).
const controls = {};
const errorSpans = {};

function fieldError(name) {
  errorSpans[name] = h("span", { id: `${name}-error`, className: "field-error", "aria-live": "polite" });
  return errorSpans[name];
}

function option(value, text, selected) {
  return h("option", { value, selected }, text);
}

function fieldRow(name, labelKey, control, readOnly) {
  if (control === null) {
    return [h("dt", {}, t(labelKey)), h("dd", { id: name }, readOnly)];
  }
  control.id = name;
  control.setAttribute("aria-describedby", `${name}-error`);
  controls[name] = control;
  return [h("dt", {}, h("label", { for: name }, t(labelKey))), h("dd", {}, control, fieldError(name))];
}

function fields(incident) {
  for (const key of Object.keys(controls)) delete controls[key];
  const assigned = incident.assignedTo?.id ?? "";
  const supporters = new Set(incident.supportedBy.map((u) => u.id));
  const statuses = [incident.status, ...incident.allowedTransitions];
  return h(
    "dl",
    { className: "fields" },
    fieldRow(
      "assigned-to",
      "assignedTo",
      manager
        ? h("select", {}, option("", t("unassigned"), !assigned), people.map((u) => option(u.id, u.name, u.id === assigned)))
        : null,
      incident.assignedTo?.name ?? t("unassigned"),
    ),
    fieldRow(
      "supported-by",
      "supportedBy",
      manager
        ? h("select", { multiple: true, size: Math.min(5, Math.max(2, people.length)) }, people.map((u) => option(u.id, u.name, supporters.has(u.id))))
        : null,
      incident.supportedBy.map((u) => u.name).join(", ") || t("nobody"),
    ),
    fieldRow(
      "status",
      "status",
      h("select", { disabled: statuses.length === 1 }, statuses.map((s) => option(s, t(s), s === incident.status))),
    ),
    fieldRow("impact", "impact", manager ? h("select", {}, IMPACTS.map((v) => option(v, t(v), v === incident.impact))) : null, t(incident.impact)),
    fieldRow("urgency", "urgency", manager ? h("select", {}, IMPACTS.map((v) => option(v, t(v), v === incident.urgency))) : null, t(incident.urgency)),
    [h("dt", {}, t("priority")), h("dd", {}, t(incident.priority))],
    fieldRow(
      "due-date",
      "dueDate",
      manager ? h("input", { type: "datetime-local", value: localInput(incident.dueDate) }) : null,
      h("span", { className: incident.isOverdue ? "overdue" : null }, formatDate(incident.dueDate) || t("none")),
    ),
    [h("dt", {}, t("type")), h("dd", {}, t(incident.type))],
    [h("dt", {}, t("reporter")), h("dd", {}, incident.reporter.name)],
    incident.task ? [h("dt", {}, t("task")), h("dd", {}, incident.task)] : null,
    [h("dt", {}, t("watchers")), h("dd", {}, incident.watchers.map((u) => u.name).join(", ") || t("nobody"))],
  );
}

// What this window changes, compared with the version it shows.
function edits(incident) {
  const changes = {};
  const value = (name) => controls[name]?.value;
  if (controls["assigned-to"] && value("assigned-to") !== (incident.assignedTo?.id ?? "")) {
    changes.assignedToId = value("assigned-to") || null;
  }
  if (controls["supported-by"]) {
    const chosen = [...controls["supported-by"].selectedOptions].map((o) => o.value).sort();
    const before = incident.supportedBy.map((u) => u.id).sort();
    if (chosen.join() !== before.join()) changes.supportedByIds = chosen;
  }
  if (value("status") !== incident.status) changes.status = value("status");
  if (controls.impact && value("impact") !== incident.impact) changes.impact = value("impact");
  if (controls.urgency && value("urgency") !== incident.urgency) changes.urgency = value("urgency");
  if (controls["due-date"] && value("due-date") !== localInput(incident.dueDate)) {
    changes.dueDate = value("due-date") ? new Date(value("due-date")).toISOString() : null;
  }
  return changes;
}

function apply(changes) {
  const set = (name, value) => controls[name] && (controls[name].value = value);
  if ("assignedToId" in changes) set("assigned-to", changes.assignedToId ?? "");
  if ("supportedByIds" in changes && controls["supported-by"]) {
    for (const o of controls["supported-by"].options) o.selected = changes.supportedByIds.includes(o.value);
  }
  if ("status" in changes) {
    if ([...controls.status.options].some((o) => o.value === changes.status)) set("status", changes.status);
  }
  if ("impact" in changes) set("impact", changes.impact);
  if ("urgency" in changes) set("urgency", changes.urgency);
  if ("dueDate" in changes) set("due-date", localInput(changes.dueDate));
}

// --- The comment box: text, files and references, sent with Save/Send.
const comment = h("textarea", { id: "comment", name: "comment", "aria-describedby": "comment-error" });
const files = h("input", { id: "files", type: "file", multiple: true, "aria-describedby": "files-error" });
const refLabel = h("input", { id: "reference-label", type: "text", "aria-describedby": "references-error" });
const refUrl = h("input", { id: "reference-url", type: "url", "aria-describedby": "references-error" });
const pendingRefs = [];
const pendingList = h("ul", { className: "pending-refs", "aria-live": "polite" });
controls.comment = comment;
function showPending() {
  replace(
    pendingList,
    pendingRefs.map((ref, n) =>
      h(
        "li",
        {},
        ref.url ? `${ref.label} (${ref.url}) ` : `${ref.label} `,
        h("button", { type: "button", className: "secondary", onclick: () => (pendingRefs.splice(n, 1), showPending()) }, t("remove", { label: ref.label })),
      ),
    ),
  );
}
const addRef = h("button", { type: "button", className: "secondary" }, t("addReference"));
addRef.addEventListener("click", () => {
  if (!refLabel.value.trim()) return refLabel.focus();
  pendingRefs.push({ label: refLabel.value.trim(), url: refUrl.value.trim() || null });
  refLabel.value = refUrl.value = "";
  showPending();
  refLabel.focus();
});

const saveButton = h("button", { type: "submit" }, t("saveSend"));
const outcome = h("div", { className: "notice", role: "status" });
const problem = h("div", { className: "error", role: "alert" });
const fieldsBox = h("div");
const infoBox = h("div");
const title = h("h1");

const form = h(
  "form",
  { className: "stack", "aria-labelledby": "incident-title", novalidate: true },
  fieldsBox,
  h("p", {}, h("label", { for: "comment" }, t("comment")), comment, fieldError("comment")),
  h("p", {}, h("label", { for: "files" }, t("attachFiles")), files, fieldError("files")),
  h(
    "div",
    { className: "row" },
    h("p", {}, h("label", { for: "reference-label" }, t("referenceLabel")), refLabel),
    h("p", {}, h("label", { for: "reference-url" }, t("referenceUrl")), refUrl),
    addRef,
  ),
  fieldError("references"),
  pendingList,
  problem,
  h("p", {}, saveButton),
  outcome,
);
replace(
  main,
  title,
  h("div", { className: "window" }, h("section", { "aria-label": t("incident", { number }) }, infoBox), h("aside", { "aria-label": t("saveSend") }, form)),
);

function sizeText(size) {
  return size < 1024 ? `${size} B` : size < 1048576 ? `${(size / 1024).toFixed(1)} KiB` : `${(size / 1048576).toFixed(1)} MiB`;
}
const fileLink = (a) => h("li", {}, h("a", { href: a.url, download: a.filename }, a.filename), ` (${sizeText(a.size)})`);

function show(incident) {
  title.id = "incident-title";
  replace(title, t("incident", { number: incident.number }));
  replace(fieldsBox, fields(incident));
  replace(
    infoBox,
    h("h2", {}, t("description")),
    h("div", { className: "description" }, incident.description),
    h("h2", {}, t("references")),
    incident.references.length
      ? h("ul", { className: "refs", id: "references" }, incident.references.map((r) => h("li", {}, r.url ? h("a", { href: r.url, rel: "noopener noreferrer" }, r.label) : r.label, h("span", { className: "meta" }, ` — ${r.addedBy.name}, ${formatDate(r.addedAt)}`))))
      : h("p", {}, t("none")),
    h("h2", {}, t("files")),
    incident.attachments.length ? h("ul", { className: "files" }, incident.attachments.map(fileLink)) : h("p", {}, t("none")),
    h("h2", {}, t("comments")),
    incident.comments.nodes.length
      ? h(
          "ol",
          { className: "comment-list" },
          incident.comments.nodes.map((c) =>
            h(
              "li",
              {},
              h("span", { className: "meta" }, `${c.author.name}, ${formatDate(c.createdAt)}`),
              h("p", { className: "comment-body" }, c.body),
              c.attachments.length ? h("ul", { className: "files" }, c.attachments.map(fileLink)) : null,
            ),
          ),
        )
      : h("p", {}, t("none")),
    h("h2", {}, t("history")),
    h(
      "ol",
      { className: "history" },
      incident.history.nodes.map((e) =>
        h(
          "li",
          {},
          h("span", { className: "meta" }, formatDate(e.at)),
          ` ${e.actor?.name ?? ""} ${t(`ev_${e.kind}`)}`,
          e.from || e.to ? `: ${value(e.from)} → ${value(e.to)}` : "",
        ),
      ),
    ),
  );
}

// A history value: a date, a name of the API's (a status, a priority…), or text as it is.
function value(text) {
  if (!text) return "—";
  if (/^\d{4}-\d\d-\d\dT/.test(text)) return formatDate(text);
  return t(text);
}

function clearErrors() {
  problem.textContent = "";
  for (const [name, span] of Object.entries(errorSpans)) {
    span.textContent = "";
    controls[name]?.removeAttribute("aria-invalid");
  }
}

// The API names the input field at fault (["input", "dueDate"]); the window names its control.
const CONTROL_OF = {
  assignedToId: "assigned-to", supportedByIds: "supported-by", status: "status", impact: "impact",
  urgency: "urgency", dueDate: "due-date", comment: "comment", attachments: "files", references: "references",
};
const LABEL_OF = {
  "assigned-to": "assignedTo", "supported-by": "supportedBy", status: "status", impact: "impact",
  urgency: "urgency", "due-date": "dueDate", comment: "comment", files: "attachFiles", references: "references",
};

function showError(error) {
  const name = CONTROL_OF[error.field?.[1]];
  if (name && errorSpans[name]) {
    errorSpans[name].textContent = error.message;
    controls[name]?.setAttribute("aria-invalid", "true");
    problem.textContent = t("fieldError", { field: t(LABEL_OF[name]), message: error.message });
    (controls[name] ?? { focus() {} }).focus();
  } else {
    problem.textContent = error.message;
  }
}

// What someone else changed between two versions, in the window's words.
function differences(before, after) {
  const lines = [];
  const names = (users) => users.map((u) => u.name).join(", ") || t("nobody");
  const compare = (key, a, b) => a !== b && lines.push(`${t(key)}: ${a} → ${b}`);
  compare("assignedTo", before.assignedTo?.name ?? t("unassigned"), after.assignedTo?.name ?? t("unassigned"));
  compare("supportedBy", names(before.supportedBy), names(after.supportedBy));
  compare("status", t(before.status), t(after.status));
  compare("impact", t(before.impact), t(after.impact));
  compare("urgency", t(before.urgency), t(after.urgency));
  compare("dueDate", formatDate(before.dueDate) || t("none"), formatDate(after.dueDate) || t("none"));
  const added = after.comments.nodes.length - before.comments.nodes.length;
  if (added > 0) lines.push(`${t("comments")}: +${added}`);
  const refs = after.references.length - before.references.length;
  if (refs > 0) lines.push(`${t("references")}: +${refs}`);
  return lines;
}

async function conflict(mine) {
  const latest = await load();
  const lines = differences(base, latest);
  const reapply = h("button", { type: "button" }, t("reapply"));
  reapply.addEventListener("click", () => {
    base = latest;
    show(base);
    apply(mine);
    replace(problem);
    outcome.textContent = t("reapplied");
    saveButton.focus();
  });
  replace(
    problem,
    h("p", {}, lines.length ? t("conflict") : t("conflictNothing")),
    lines.length ? h("ul", {}, lines.map((line) => h("li", {}, line))) : null,
    reapply,
  );
  reapply.focus();
}

let saving = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  outcome.textContent = "";
  const mine = edits(base);
  const input = { incidentId: base.id, expectedVersion: base.version, ...mine };
  if (comment.value.trim()) input.comment = comment.value;
  if (pendingRefs.length) input.references = pendingRefs.slice();
  saving = true;
  saveButton.disabled = true;
  try {
    const { saveIncident } = await send(SAVE, { input }, [...files.files]);
    const [error] = saveIncident.errors;
    if (error?.code === "VERSION_CONFLICT") return await conflict(mine);
    if (error) return showError(error);
    comment.value = "";
    files.value = "";
    pendingRefs.length = 0;
    showPending();
    base = await load();
    show(base);
    outcome.textContent = t("saved", saveIncident.incident);
  } catch (error) {
    problem.textContent = error instanceof GraphQLError ? error.message : String(error);
  } finally {
    saving = false;
    saveButton.disabled = false;
  }
});

show(base);

// Someone else's change: shown at once when this window has nothing unsaved, else announced
// (Save/Send will then meet the conflict and show what changed).
const notice = h("p", { className: "notice", role: "status" });
main.prepend(notice);
subscribe(UPDATES, {}, async (data) => {
  const update = data?.incidentUpdates;
  if (!update || update.incident.number !== number || update.incident.version <= base.version || saving) return;
  const name = update.events[0]?.actor?.name ?? "";
  const dirty = Object.keys(edits(base)).length || comment.value.trim() || pendingRefs.length || files.files.length;
  if (dirty) {
    notice.textContent = t("changedBy", { name });
    return;
  }
  base = await load();
  show(base);
  notice.textContent = t("changedBy", { name });
});
