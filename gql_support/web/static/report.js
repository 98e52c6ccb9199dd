// Report an incident: description, type, impact, urgency, due date, watchlist and files, sent
// as one reportIncident (with the files, a multipart request).
import { send } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { page } from "./layout.js";

const REPORT = `
  mutation Report($input: ReportIncidentInput!) {
    reportIncident(input: $input) {
      incident { number }
      errors { code message field }
    }
  }`;
const TYPES = ["DEFECT", "CHANGE_REQUEST", "CLARIFICATION"];
const LEVELS = ["HIGH", "MEDIUM", "LOW"];

const { viewer, main } = await page("report");

const errors = {};
function error(name) {
  errors[name] = h("span", { id: `${name}-error`, className: "field-error", "aria-live": "polite" });
  return errors[name];
}
function choice(id, values, selected) {
  return h("select", { id, "aria-describedby": `${id}-error` }, values.map((v) => h("option", { value: v, selected: v === selected }, t(v))));
}
function row(id, labelKey, control) {
  return h("p", {}, h("label", { for: id }, t(labelKey)), control, error(id));
}

const description = h("textarea", { id: "description", required: true, "aria-describedby": "description-error" });
const type = choice("type", TYPES, "DEFECT");
const impact = choice("impact", LEVELS, "MEDIUM");
const urgency = choice("urgency", LEVELS, "MEDIUM");
const due = h("input", { id: "due-date", type: "datetime-local", "aria-describedby": "due-date-error" });
const watch = h("input", { id: "watch", type: "checkbox", checked: true });
const files = h("input", { id: "files", type: "file", multiple: true, "aria-describedby": "files-error" });
const problem = h("div", { className: "error", role: "alert" });
const submit = h("button", { type: "submit" }, t("report"));

const form = h(
  "form",
  { className: "stack", novalidate: true },
  row("description", "description", description),
  row("type", "type", type),
  row("impact", "impact", impact),
  row("urgency", "urgency", urgency),
  row("due-date", "dueDate", due),
  h("p", {}, h("span", {}, watch, " ", h("label", { for: "watch" }, t("watch")))),
  row("files", "attachFiles", files),
  problem,
  h("p", {}, submit),
);
replace(main, h("h1", {}, t("report")), form);
description.focus();

const CONTROL_OF = { description: "description", type: "type", impact: "impact", urgency: "urgency", dueDate: "due-date", attachments: "files" };
const LABEL_OF = { description: "description", type: "type", impact: "impact", urgency: "urgency", "due-date": "dueDate", files: "attachFiles" };

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.textContent = "";
  for (const span of Object.values(errors)) span.textContent = "";
  const input = {
    description: description.value,
    type: type.value,
    impact: impact.value,
    urgency: urgency.value,
    watcherIds: watch.checked ? [viewer.id] : [],
  };
  if (due.value) input.dueDate = new Date(due.value).toISOString();
  submit.disabled = true;
  try {
    const { reportIncident } = await send(REPORT, { input }, [...files.files]);
    const [failure] = reportIncident.errors;
    if (!failure) {
      location.assign(`/incidents/${reportIncident.incident.number}`);
      return;
    }
    const name = CONTROL_OF[failure.field?.[1]];
    if (name) {
      errors[name].textContent = failure.message;
      document.getElementById(name).setAttribute("aria-invalid", "true");
      document.getElementById(name).focus();
      problem.textContent = t("fieldError", { field: t(LABEL_OF[name]), message: failure.message });
    } else {
      problem.textContent = failure.message;
    }
  } catch (failure) {
    problem.textContent = String(failure.message ?? failure);
  } finally {
    submit.disabled = false;
  }
});
