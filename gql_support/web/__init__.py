"""The web desk: the pages a support team works in (sign in, the incident dashboard, the
incident window, Report an incident) and GraphiQL, served with every script, style and font
they need from ``static/`` (ours, and GraphiQL's vendored from npm by ``make assets``).

The pages are static shells; their scripts speak only the public API (``/graphql`` over HTTP
and graphql-transport-ws, ``/session`` for the cookie). See ``pages`` for the routes."""
