"""The desk's pages and files over HTTP: a strict CSP on every page, nothing from another
origin, fingerprinted files kept a year, vendored files with their licences."""

from __future__ import annotations

import re

import pytest

from tests.conftest import GraphQLClient

PAGES = ["/", "/incidents/42", "/report", "/sign-in", "/reset-password"]
_URL = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_allows_only_our_own_scripts(gql: GraphQLClient, path: str) -> None:
    response = await gql.http.get(path)
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-cache"
    assert "<script>" not in response.text
    for url in _URL.findall(response.text):
        assert url.startswith(("/assets/", "data:")), url


async def test_every_file_a_page_names_is_served_and_kept_for_a_year(gql: GraphQLClient) -> None:
    pages = [(await gql.http.get(path)).text for path in [*PAGES, "/graphql"]]
    urls = {url for page in pages for url in _URL.findall(page) if url.startswith("/assets/")}
    assert any(url.endswith("/vendor/graphiql/graphiql.min.js") for url in urls)
    for url in urls:
        response = await gql.http.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        if url.endswith(".js"):
            assert response.headers["content-type"].startswith("text/javascript")


async def test_a_file_of_another_version_is_not_found(gql: GraphQLClient) -> None:
    page = (await gql.http.get("/")).text
    url = next(u for u in _URL.findall(page) if u.endswith(".css"))
    version = url.split("/")[2]
    assert (await gql.http.get(url.replace(version, "0" * 12))).status_code == 404
    assert (await gql.http.get(f"/assets/{version}/no-such.js")).status_code == 404


@pytest.mark.parametrize("name", ["LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"])
async def test_vendored_files_come_with_their_licences(gql: GraphQLClient, name: str) -> None:
    page = (await gql.http.get("/graphql", headers={"Accept": "text/html"})).text
    prefix = next(u for u in _URL.findall(page) if "/vendor/graphiql/" in u).rsplit("/", 1)[0]
    response = await gql.http.get(f"{prefix}/{name}")
    assert response.status_code == 200
    assert "MIT License" in response.text
