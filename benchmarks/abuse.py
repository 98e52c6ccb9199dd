"""How long other users wait while a hostile client attacks: the worst ``/healthz`` latency
during each attack, beside an idle baseline.

Run by hand:  .venv/bin/python benchmarks/abuse.py [--rounds N]   (default 3)
It starts a real server (``gql-support serve``, uvicorn) in its own process on a fresh SQLite
database under a temporary directory, with a USER and a token. For each entry of ``ATTACKS`` it
sends the attack ``--rounds`` times in a row while another thread asks ``/healthz`` every 10 ms,
and prints the worst latency of those polls, the attack's own time and what the server
answered. The goal is under 100 ms for every row.

An attack is one entry: a name and a function that sends one round of it with an httpx client
(base URL set) and the USER's token, returning the answer to show (status and error code).
Add attacks by adding entries.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import httpx

POLL_SECONDS = 0.01
COSTLY = """
  a{n}: incidents(first: 100) {{
    nodes {{
      comments(first: 100) {{ nodes {{ body author {{ name }} }} }}
      history(first: 100) {{ nodes {{ kind actor {{ name }} }} }}
      attachments {{ url }}
      allowedTransitions
    }}
  }}
"""


@dataclass(frozen=True)
class Attack:
    name: str
    send: Callable[[httpx.Client, str], str]


def _answer(response: httpx.Response) -> str:
    """The status and the first error code of a response."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    code = errors[0].get("extensions", {}).get("code", "?") if errors else "ok"
    return f"{response.status_code} {code}"


def _graphql(query: str, *, signed_in: bool = True) -> Callable[[httpx.Client, str], str]:
    return _raw(json.dumps({"query": query}).encode(), signed_in=signed_in)


def _raw(body: bytes, *, signed_in: bool = False) -> Callable[[httpx.Client, str], str]:
    """Posts this body, encoded beforehand so the client's own work is not measured."""

    def send(http: httpx.Client, token: str) -> str:
        headers = {"Content-Type": "application/json"}
        if signed_in:
            headers["Authorization"] = f"Bearer {token}"
        return _answer(http.post("/graphql", content=body, headers=headers))

    return send


def _parallel(
    count: int, send: Callable[[httpx.Client, str], str]
) -> Callable[[httpx.Client, str], str]:
    """Sends ``count`` copies of an attack at once, from as many threads."""

    def send_all(http: httpx.Client, token: str) -> str:
        with ThreadPoolExecutor(count) as pool:
            answers = list(pool.map(lambda _: send(http, token), range(count)))
        return ", ".join(sorted(set(answers)))

    return send_all


def _logins(count: int, email: str) -> Callable[[httpx.Client, str], str]:
    """``count`` logins in a row with a wrong password; the answers seen."""
    body = json.dumps(
        {
            "query": "mutation($i: LoginInput!) { login(input: $i) { errors { code } } }",
            "variables": {"i": {"email": email, "password": "wrong password 123"}},
        }
    ).encode()

    def send(http: httpx.Client, token: str) -> str:
        codes = set()
        for _ in range(count):
            response = http.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
            errors = response.json()["data"]["login"]["errors"]
            codes.add(f"{response.status_code} {errors[0]['code'] if errors else 'ok'}")
        return ", ".join(sorted(codes))

    return send


def _anonymous_upload(mebibytes: int) -> Callable[[httpx.Client, str], str]:
    """A multipart upload of this size without a token: refused before the body is read."""

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="0"; filename="x"\r\n\r\n'
        chunk = b"x" * 1024 * 1024
        for _ in range(mebibytes):
            yield chunk

    def send(http: httpx.Client, token: str) -> str:
        headers = {
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(mebibytes * 1024 * 1024 + 80),
            "Apollo-Require-Preflight": "true",
        }
        try:
            return _answer(http.post("/graphql", content=body(), headers=headers))
        except httpx.TransportError as error:
            return f"closed ({type(error).__name__})"

    return send


def _idle(http: httpx.Client, token: str) -> str:
    time.sleep(1)
    return "-"


def _bomb(megabytes: int) -> str:
    part = "__typename @include(if: true) "
    return "{ " + part * (megabytes * 1_000_000 // len(part)) + "}"


ATTACKS = [
    Attack("idle (baseline)", _idle),
    Attack("10 MB parse bomb, anonymous", _graphql(_bomb(10), signed_in=False)),
    Attack("2 MB parse bomb, anonymous", _graphql(_bomb(2), signed_in=False)),
    Attack("99 kB parse bomb, anonymous", _graphql(_bomb(1)[:99_000] + "}", signed_in=False)),
    Attack(
        "100 costly aliases, USER",
        _graphql("{" + "".join(COSTLY.format(n=n) for n in range(100)) + "}"),
    ),
    Attack("1 costly alias, USER", _graphql("{" + COSTLY.format(n=0) + "}")),
    Attack(
        "1,000 dashboard aliases, USER",
        _graphql("{" + " ".join(f"d{n}: dashboard {{ total }}" for n in range(1000)) + "}"),
    ),
    Attack("deep JSON body (8 MB of [)", _raw(b"[" * 8_000_000)),
    Attack(
        "5 parallel 200,000-word searches",
        _parallel(
            5,
            _raw(
                json.dumps(
                    {
                        "query": "query($s: String) { incidents(filter: {search: $s}) "
                        "{ totalCount } }",
                        "variables": {"s": " ".join(f"word{n}" for n in range(200_000))},
                    }
                ).encode(),
                signed_in=True,
            ),
        ),
    ),
    Attack(
        "200 aliased addComment, USER",
        _graphql(
            "mutation {"
            + " ".join(
                f'c{n}: addComment(input: {{incidentId: "SW5jaWRlbnQ6MQ==", body: "spam"}})'
                " { errors { code } }"
                for n in range(200)
            )
            + "}"
        ),
    ),
    Attack("200 wrong passwords, one account", _logins(200, "u@bench.example.com")),
    Attack(
        "40 parallel logins, unknown emails", _parallel(40, _logins(1, "nobody@bench.example.com"))
    ),
    Attack("anonymous 253 MiB upload", _anonymous_upload(253)),
    Attack("invalid UTF-8 body", _raw(b'{"query": "\xff' + b"x" * 1_000_000 + b'"}')),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _poll(url: str, stop: EventType, samples: Queue[list[tuple[float, float]]]) -> None:
    """Asks /healthz every 10 ms until told to stop; sends back when each ask started (on the
    machine's monotonic clock) and how long it took. In a process of its own, so that the
    attacking client's work never delays it."""
    taken = []
    with httpx.Client(base_url=url, timeout=120) as http:
        while not stop.is_set():
            started = time.monotonic()
            http.get("/healthz").raise_for_status()
            taken.append((started, time.monotonic() - started))
            time.sleep(POLL_SECONDS)
    samples.put(taken)


def _worst(
    samples: list[tuple[float, float]], start: float, end: float
) -> tuple[float, float, int]:
    """Worst and median latency of the polls started within [start, end], and how many."""
    within = [latency for at, latency in samples if start <= at <= end]
    return max(within), statistics.median(within), len(within)


def _start_server(work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": f"sqlite://{work / 'desk.sqlite3'}",
        "GQL_SUPPORT_ATTACHMENTS_DIR": str(work / "attachments"),
        "GQL_SUPPORT_MAIL_DIR": str(work / "mail"),
        "GQL_SUPPORT_DEMO_DATA": "false",
    }
    command = [sys.executable, "-m", "gql_support"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*command, "user", "create", "--email", "u@bench.example.com", "--name", "Bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz").raise_for_status()
            return server, url, token
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="gqls-abuse-bench-"))
    server, url, token = _start_server(work)
    stop = multiprocessing.Event()
    queue: Queue[list[tuple[float, float]]] = multiprocessing.Queue()
    poller = multiprocessing.Process(target=_poll, args=(url, stop, queue), daemon=True)
    poller.start()
    windows = []
    try:
        with httpx.Client(base_url=url, timeout=300) as http:
            for attack in ATTACKS:
                time.sleep(0.2)
                start = time.monotonic()
                answers = [attack.send(http, token) for _ in range(rounds)]
                end = time.monotonic()
                time.sleep(2 * POLL_SECONDS)
                windows.append((attack.name, ", ".join(sorted(set(answers))), start, end))
        stop.set()
        samples = queue.get(timeout=120)
        poller.join(30)
    finally:
        server.terminate()
        server.wait(30)
    rows = []
    for name, answer, start, end in windows:
        worst, median, polls = _worst(samples, start, end + 2 * POLL_SECONDS)
        rows.append((name, answer, (end - start) / rounds, worst, median, polls))
    print(f"{rounds} round(s) per attack; /healthz asked every {POLL_SECONDS * 1000:.0f} ms")
    print(
        f"{'attack':<32} {'answer':<28} {'attack s':>9} {'worst ms':>9} {'p50 ms':>7} {'polls':>6}"
    )
    for name, answer, took, worst, median, polls in rows:
        print(
            f"{name:<32} {answer:<28} {took:>9.3f} {worst * 1000:>9.1f} {median * 1000:>7.1f}"
            f" {polls:>6}"
        )
    print(json.dumps({name: round(worst * 1000, 1) for name, _, _, worst, _, _ in rows}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args().rounds)
