"""A request body limit enforced while the body is read, for every route.

``await request.body()`` would hold the whole post in memory before any length check (a 300 MB
post grew the server to 671 MB before its 413). This middleware wraps ``receive``: a declared
Content-Length over the limit is refused before a byte is read, and a chunked body is counted
chunk by chunk and refused as soon as it passes the limit. The refusal is an HTTPException
raised where the handler reads, so it is answered by the app's one error handler (413).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

FORM_MAX = 1_000_000  # a form: login, signup, an editor's note; nothing posted here is bigger


class BodyLimit:
    def __init__(self, app, *, default: int = FORM_MAX, paths: dict[str, int] | None = None):
        self.app, self.default, self.paths = app, default, dict(paths or {})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.paths.get(scope["path"], self.default)
        declared = _content_length(scope)
        seen = 0

        async def limited_receive():
            nonlocal seen
            if declared is not None and declared > limit:
                raise _too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the server refuses a malformed one before we see it
                return None
    return None


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The request body is larger than {limit:,} bytes.")
