"""How much a 100 MB upload raises the server's memory.

Run by hand:  .venv/bin/python benchmarks/upload_memory.py [MEGABYTES]   (default 100)
It starts a real server (``gql-support serve``, uvicorn) in its own process on a fresh SQLite
database and attachments folder under a temporary directory, uploads one file of that size
through reportIncident over HTTP, then reports the server's resident memory before the upload
and at its peak during it (sampled from /proc, and the kernel's high-water mark after resetting
it), and checks that the stored file has the same SHA-256. Linux only.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPORT = """
mutation R($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { attachments { size sha256 } } errors { code message } }
}
"""


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _upload(url: str, token: str, path: Path, name: str) -> dict[str, object]:
    operations = {"query": REPORT, "variables": {"input": {"description": name}}}
    operations["variables"]["input"]["attachments"] = [None]  # type: ignore[index]
    with path.open("rb") as file:
        response = httpx.post(
            f"{url}/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.attachments.0"]}),
            },
            files={"0": (path.name, file)},
            headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "1"},
            timeout=600,
        )
    response.raise_for_status()
    return dict(response.json()["data"]["reportIncident"])


def main(megabytes: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="gqls-upload-bench-"))
    env = {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": f"sqlite://{work / 'desk.sqlite3'}",
        "GQL_SUPPORT_ATTACHMENTS_DIR": str(work / "attachments"),
        "GQL_SUPPORT_ATTACHMENT_MAX_BYTES": str((megabytes + 1) * 1024 * 1024),
        "GQL_SUPPORT_DEMO_DATA": "false",
        "GQL_SUPPORT_GRAPHIQL": "false",
    }
    command = [sys.executable, "-m", "gql_support"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*command, "user", "create", "--email", "b@bench.example.com", "--name", "Bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]

    # The file to send, written in chunks (so this process does not hold it either)
    big = work / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as out:
        for _ in range(megabytes):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            out.write(chunk)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        # Warm up: the first upload loads the code paths and opens the database.
        small = work / "small.txt"
        small.write_bytes(b"warm up\n")
        _upload(url, token, small, "warm up")
        time.sleep(0.5)

        baseline = _kib(server.pid, "VmRSS")
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # reset VmHWM to VmRSS
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _kib(server.pid, "VmRSS"))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        result = _upload(url, token, big, f"{megabytes} MB")
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        high_water = _kib(server.pid, "VmHWM")

        assert result["errors"] == [], result
        [attachment] = result["incident"]["attachments"]  # type: ignore[index]
        assert attachment["size"] == megabytes * 1024 * 1024
        assert attachment["sha256"] == digest.hexdigest(), "stored bytes differ"
        print(f"uploaded {megabytes} MB in {elapsed:.1f} s; sha256 matches")
        print(f"server RSS before: {baseline / 1024:.1f} MiB")
        print(
            f"server RSS peak:   {peak / 1024:.1f} MiB sampled, {high_water / 1024:.1f} MiB "
            f"high-water mark"
        )
        print(f"increase:          {(max(peak, high_water) - baseline) / 1024:.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=10)
        for path in sorted(work.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
