// The public API, as a browser speaks it: GraphQL over HTTP (the session cookie goes with
// every same-origin request), multipart uploads, and graphql-transport-ws for live updates.

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

function signInAgain() {
  const next = location.pathname + location.search;
  location.assign("/sign-in?next=" + encodeURIComponent(next));
  return new Promise(() => {});
}

async function answer(response) {
  if (response.status === 401) return signInAgain();
  const body = await response.json();
  if (body.errors?.length) {
    if (body.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return signInAgain();
    throw new GraphQLError(body.errors);
  }
  return body.data;
}

export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return answer(response);
}

// The GraphQL multipart request: each file replaces a null at variables.input.attachments.N.
export async function upload(query, variables, files) {
  const operations = structuredClone({ query, variables });
  operations.variables.input.attachments = files.map(() => null);
  const map = {};
  files.forEach((_, n) => (map[n] = [`variables.input.attachments.${n}`]));
  const form = new FormData();
  form.append("operations", JSON.stringify(operations));
  form.append("map", JSON.stringify(map));
  files.forEach((file, n) => form.append(String(n), file, file.name));
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Apollo-Require-Preflight": "true", Accept: "application/json" },
    body: form,
  });
  return answer(response);
}

// Sends with files when there are any, as JSON otherwise.
export function send(query, variables, files) {
  return files.length ? upload(query, variables, files) : gql(query, variables);
}

// One graphql-transport-ws connection for the page, opened again after a drop; each
// subscription is sent again on every new connection.
const subscriptions = new Map();
let socket = null;
let ready = false;
let nextId = 1;
let retry = 500;

function connect() {
  const url = new URL("/graphql", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url, "graphql-transport-ws");
  ready = false;
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      ready = true;
      retry = 500;
      for (const [id, sub] of subscriptions) start(id, sub);
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next") {
      subscriptions.get(message.id)?.onData(message.payload.data, message.payload.errors);
    }
  });
  socket.addEventListener("close", (event) => {
    ready = false;
    socket = null;
    if (event.code === 4403 || event.code === 4401) {
      signInAgain();
      return;
    }
    if (subscriptions.size) setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  });
}

function start(id, sub) {
  socket.send(
    JSON.stringify({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } }),
  );
}

export function subscribe(query, variables, onData) {
  const id = String(nextId++);
  const sub = { query, variables, onData };
  subscriptions.set(id, sub);
  if (socket === null) connect();
  else if (ready) start(id, sub);
  return () => {
    subscriptions.delete(id);
    if (ready) socket.send(JSON.stringify({ id, type: "complete" }));
  };
}

// Before signing out: the server is about to close the connection, and nothing should follow.
export function stopLive() {
  subscriptions.clear();
  if (socket !== null) socket.close(1000);
}
