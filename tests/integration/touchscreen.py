"""A worker's browser on the touchscreen, for tests and tools that drive it over HTTP.

It behaves as Chromium does with the real forms: one cookie session, the CSRF token the page
carries, and an ``Origin`` header on every form post (issue 12: nothing else is accepted).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import requests

TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class _Forms(HTMLParser):
    """The hidden fields of each POST form of a page, by its ``action``."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._current = self.forms.setdefault(a.get("action", ""), {})
        elif tag == "input" and self._current is not None and a.get("type") == "hidden":
            self._current[a.get("name", "")] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


class Touchscreen:
    def __init__(self, base_url: str | Callable[[], str], timeout_s: float = 5.0) -> None:
        self._base = base_url
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self._token: str | None = None

    @property
    def base(self) -> str:
        return self._base() if callable(self._base) else self._base

    def get(self, path: str, **kw: Any) -> requests.Response:
        r = self.session.get(self.base + path, timeout=self.timeout_s, **kw)
        found = (
            TOKEN_RE.search(r.text)
            if r.headers.get("Content-Type", "").startswith("text/html")
            else None
        )
        if found:
            self._token = found.group(1)
        return r

    def token(self) -> str:
        """The token of this session's pages; "" when a page carries none (the server then
        refuses the form, as it would a browser's)."""
        if self._token is None:
            self.get("/")
        return self._token or ""

    def post(self, path: str, data: dict[str, str], **kw: Any) -> requests.Response:
        """Submit a form of the touchscreen; redirects are not followed (303 = saved)."""
        base = self.base
        token = self.token()
        return self.session.post(
            base + path,
            data={**data, "csrf_token": token} if token else data,
            headers={"Origin": base, **kw.pop("headers", {})},
            allow_redirects=False,
            timeout=self.timeout_s,
            **kw,
        )

    def form(self, page: str, action: str) -> dict[str, str]:
        """The hidden fields (CSRF token, the form's own ``form_token``…) of the form posting to
        ``action`` on ``page``, as a browser would send them; fails when the page has none."""
        parser = _Forms()
        parser.feed(self.get(page).text)
        return dict(parser.forms[action])

    def submit(self, page: str, action: str, data: dict[str, str]) -> requests.Response:
        """Fill in and submit the form as rendered on ``page`` (one submit per rendering:
        the server acts once per form token, issue 13)."""
        return self.post(action, {**self.form(page, action), **data})

    def login(self, worker: str, pin: str) -> requests.Response:
        """Sign in through the PIN pad's form (facilities with PINs in their catalog)."""
        self.get(f"/login?w={worker}")
        return self.post("/login", {"worker": worker, "pin": pin, "next": "/"})

    def reset(self) -> None:
        """A new browser: new cookies, new token (after a connection broke, say)."""
        self.session.close()
        self.session = requests.Session()
        self._token = None

    def close(self) -> None:
        self.session.close()
