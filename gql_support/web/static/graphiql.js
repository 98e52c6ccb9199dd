// GraphiQL on our own endpoint. A browser signed in to the desk is signed in here too (the
// session cookie); a token typed into the headers is never kept (shouldPersistHeaders).
(function () {
  const url = new URL("/graphql", location.href);
  const subscriptionUrl = new URL(url);
  subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      shouldPersistHeaders: false,
      defaultQuery:
        "# Signed in to the desk in this browser? This runs as you; else send\n" +
        '# {"Authorization": "Bearer <token>"} in the headers below.\n' +
        "query Me {\n  viewer { name email role }\n}\n",
    }),
  );
})();
