// The incident dashboard: counts by status, filters, the table with sorting and paging, kept
// current by dashboardUpdates (the counts) and incidentUpdates (the rows).
import { gql, subscribe } from "./api.js";
import { h, replace } from "./dom.js";
import { formatDate, t } from "./i18n.js";
import { page } from "./layout.js";

const PAGE_SIZE = 20;
const STATUSES = ["NEW", "IN_PROGRESS", "RETESTING", "RESOLVED", "CLOSED", "REJECTED", "ON_HOLD"];
const PRIORITIES = ["URGENT", "HIGH", "NORMAL", "LOW"];
const SORTS = ["NUMBER_DESC", "NUMBER_ASC", "PRIORITY_DESC", "DUE_DATE_ASC", "STATUS_ASC", "UPDATED_AT_DESC"];

const INCIDENTS = `
  query Dashboard($filter: IncidentFilter, $orderBy: IncidentOrder, $first: Int, $after: String) {
    incidents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id number description type priority status dueDate isOverdue version
        assignedTo { id name }
        comments(first: 0) { totalCount }
      }
    }
  }`;
const FIGURES = `
  subscription Figures($filter: IncidentFilter) {
    dashboardUpdates(filter: $filter) { total open overdue byStatus { status count } }
  }`;
const UPDATES = `
  subscription Rows($filter: IncidentFilter) {
    incidentUpdates(filter: $filter) { kind incident { number version } }
  }`;

const { viewer, main } = await page("dashboard");

const state = { search: "", status: "", priority: "", mine: false, sort: "NUMBER_DESC", cursors: [null] };
const changed = new Set();

function select(id, labelKey, values, onchange) {
  const control = h(
    "select",
    { id, onchange: () => onchange(control.value) },
    values.map(([value, text]) => h("option", { value }, text)),
  );
  return [h("label", { for: id }, t(labelKey)), control];
}

const searchBox = h("input", { id: "search", type: "search", name: "search" });
const filters = h(
  "form",
  { className: "filters", role: "search" },
  h("p", {}, h("label", { for: "search" }, t("search")), searchBox),
  h(
    "p",
    {},
    ...select("status-filter", "statusFilter", [["", t("all")], ...STATUSES.map((s) => [s, t(s)])], (v) => {
      state.status = v;
      reload();
    }),
  ),
  h(
    "p",
    {},
    ...select("priority-filter", "priorityFilter", [["", t("all")], ...PRIORITIES.map((p) => [p, t(p)])], (v) => {
      state.priority = v;
      reload();
    }),
  ),
  h(
    "fieldset",
    {},
    h("legend", {}, t("scope")),
    ...[
      ["everyone", false],
      ["mine", true],
    ].map(([key, mine]) =>
      h(
        "label",
        {},
        h("input", {
          type: "radio",
          name: "scope",
          value: key,
          checked: state.mine === mine,
          onchange: () => {
            state.mine = mine;
            reload();
            follow();
          },
        }),
        " ",
        t(key),
      ),
    ),
  ),
  h(
    "p",
    {},
    ...select("sort", "sortBy", SORTS.map((s) => [s, t(`sort_${s}`)]), (v) => {
      state.sort = v;
      reload();
    }),
  ),
);
let typing = null;
searchBox.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    state.search = searchBox.value.trim();
    reload();
  }, 250);
});
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(typing);
  state.search = searchBox.value.trim();
  reload();
});

const counts = h("ul", { className: "counts", "aria-label": t("countsByStatus") });
const liveNote = h("p", { className: "meta", role: "status" });
const table = h("div", { id: "incident-table" });
const pager = h("nav", { className: "pager", "aria-label": t("incidents") });
replace(main, h("h1", {}, t("dashboard")), filters, counts, liveNote, table, pager);

function scopeFilter() {
  return state.mine ? { involvingUserId: viewer.id } : {};
}

function filter() {
  const value = scopeFilter();
  if (state.search) value.search = state.search;
  if (state.status) value.status = [state.status];
  if (state.priority) value.priority = [state.priority];
  return value;
}

function order() {
  const [, field, direction] = state.sort.match(/^(.*)_(ASC|DESC)$/);
  return { field, direction };
}

function row(incident) {
  const isChanged = changed.has(incident.number);
  return h(
    "tr",
    { className: isChanged ? "changed" : null, "data-number": incident.number },
    h("td", {}, `#${incident.number}`),
    h(
      "td",
      {},
      h("a", { href: `/incidents/${incident.number}` }, incident.description),
      isChanged ? [" ", h("span", { className: "badge" }, t("changed"))] : null,
    ),
    h("td", {}, t(incident.type)),
    h("td", {}, t(incident.priority)),
    h("td", {}, t(incident.status)),
    h("td", {}, incident.assignedTo?.name ?? t("unassigned")),
    h(
      "td",
      { className: incident.isOverdue ? "overdue" : null },
      formatDate(incident.dueDate),
      incident.isOverdue ? [" ", h("span", { className: "badge" }, t("overdue"))] : null,
    ),
    h("td", {}, incident.comments.totalCount),
  );
}

async function reload() {
  state.cursors = [null];
  await show();
}

async function show() {
  const after = state.cursors[state.cursors.length - 1];
  const { incidents } = await gql(INCIDENTS, {
    filter: filter(),
    orderBy: order(),
    first: PAGE_SIZE,
    after,
  });
  const headings = ["number", "description", "type", "priority", "status", "assignedTo", "dueDate", "comments"];
  replace(
    table,
    incidents.nodes.length
      ? h(
          "table",
          {},
          h("caption", { className: "visually-hidden" }, t("incidents")),
          h("thead", {}, h("tr", {}, headings.map((key) => h("th", { scope: "col" }, t(key))))),
          h("tbody", {}, incidents.nodes.map(row)),
        )
      : h("p", {}, t("noIncidents")),
  );
  const from = (state.cursors.length - 1) * PAGE_SIZE;
  const previous = h("button", { type: "button", className: "secondary", disabled: from === 0 }, t("previous"));
  const next = h("button", { type: "button", className: "secondary", disabled: !incidents.pageInfo.hasNextPage }, t("next"));
  previous.addEventListener("click", () => {
    state.cursors.pop();
    show();
  });
  next.addEventListener("click", () => {
    state.cursors.push(incidents.pageInfo.endCursor);
    show();
  });
  replace(
    pager,
    previous,
    h("span", {}, t("pageOf", { from: incidents.totalCount ? from + 1 : 0, to: from + incidents.nodes.length, total: incidents.totalCount })),
    next,
  );
}

function showFigures(figures) {
  const byStatus = new Map(figures.byStatus.map((s) => [s.status, s.count]));
  const item = (label, count) => h("li", {}, label, h("strong", {}, count));
  replace(
    counts,
    item(t("total"), figures.total),
    item(t("open"), figures.open),
    item(t("overdue"), figures.overdue),
    STATUSES.map((status) => item(t(status), byStatus.get(status) ?? 0)),
  );
}

let stop = [];
let redraw = null;
function follow() {
  stop.forEach((end) => end());
  stop = [
    subscribe(FIGURES, { filter: scopeFilter() }, (data) => data && showFigures(data.dashboardUpdates)),
    subscribe(UPDATES, { filter: scopeFilter() }, (data) => {
      if (!data) return;
      changed.add(data.incidentUpdates.incident.number);
      // A burst of changes redraws the page once.
      clearTimeout(redraw);
      redraw = setTimeout(show, 100);
    }),
  ];
  liveNote.textContent = t("live");
}

await show();
follow();
