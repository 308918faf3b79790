"""The server's own authentication, as a deployment would have it: a request is let in with the key the tests set
in `RUNBRIDGE_LG_KEY`, sent as an `x-api-key` header or as a bearer token; anything else is a 401."""

from __future__ import annotations

import hmac
import os

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> str:
    key = os.environ.get("RUNBRIDGE_LG_KEY", "")
    sent = headers.get(b"x-api-key", b"").decode()
    bearer = headers.get(b"authorization", b"").decode()
    if bearer.lower().startswith("bearer "):
        sent = sent or bearer[7:]
    if not key or not hmac.compare_digest(sent, key):
        raise Auth.exceptions.HTTPException(status_code=401, detail="a valid key is needed")
    return "tests"
