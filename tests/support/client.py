"""The tests' one HTTP client, for their calls to the stand-ins, bots and consoles.

`httpx.get()` and its kin build a new client for each call, and with it an SSL context
that loads every CA certificate: about 20 ms of CPU a call. Tests poll these endpoints
many thousands of times a run, and that was the largest share of the suite's CPU on a
two-core machine. One client (thread-safe) costs it once. It keeps no connection alive:
each call opens its own, as before, so no call meets one a server has just closed.
"""

from __future__ import annotations

import httpx

HTTP = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
