"""The HTML pages served outside ``/static``.

The course pages (``/catalog``, ``/courses/{slug or id}``, ``/my``, ``/learn/{lesson id}``) are
static HTML too: their script (``static/courses.js``) reads the slug or id from the address and
asks the JSON API. So are the instructor pages (``/teach``: the courses one teaches,
``static/teach.js``; ``/teach/{course id}``: the course editor, ``static/editor.js``) and the
live pages (``/live``: one's live and upcoming sessions, ``static/live.js``;
``/live/{live session id}``: the live room, ``static/live-room.js``, which connects to the
``/live`` Socket.IO namespace on the same origin, allowed by ``connect-src 'self'``). They get
the default security headers, except that the lesson page may play media from ``blob:`` URLs:
hls.js feeds the ``<video>`` through Media Source Extensions, whose object URL is a ``blob:``
one, and ``media-src`` would otherwise fall back to ``default-src 'self'`` and refuse it.

The pages that account emails link to: ``/reset-password`` and ``/verify-email``.

Both links carry a secret in the query string (``?token=...``). The HTML is static; the page's
script reads the token, removes it from the address bar and posts it to the API. Here the
server only makes sure the token goes nowhere else:

- ``Referrer-Policy: no-referrer``: no request made from the page (its script and stylesheet,
  a link the user follows) sends the page's URL in ``Referer``.
- ``Cache-Control: no-store``: the token-bearing URL and its answer stay out of caches.
- The request log records ``request.path`` only, never the query string
  (``server.middlewares``); the aiohttp access log is off (``seminar serve``).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server.middlewares_base import Handler
from server.security_headers import CSP

PAGES = {
    "/reset-password": "reset-password.html",
    "/verify-email": "verify-email.html",
}

COURSE_PAGES = {
    "/catalog": "catalog.html",
    "/courses/{course}": "course.html",
    "/my": "my.html",
    "/learn/{lesson}": "learn.html",
    "/teach": "teach.html",
    "/teach/{course}": "editor.html",
    "/live": "live.html",
    "/live/{live_session}": "live-room.html",
    "/certificates/{code}": "certificate.html",  # public: verifies a certificate's code
}

# The grading pages, static HTML too (the frame in static/page-shell.js): a quiz or assignment
# lesson's settings and its grading queue (staff), a course's gradebook (staff), and a student's
# own grades in a course.
GRADING_PAGES = {
    "/teach/lessons/{lesson}/settings": "lesson-settings.html",
    "/teach/lessons/{lesson}/grading": "grading.html",
    "/teach/courses/{course}/gradebook": "gradebook.html",
    "/teach/courses/{course}/question-banks": "question-banks.html",
    "/courses/{course}/grades": "grades.html",
}

# The marketplace pages, in the same frame (static/page-shell.js): one's orders and subscription,
# an instructor's earnings and payouts, the site's revenue (admins; the API refuses others), and
# promotion codes: a course's (its owner and admins) and those valid for every course (admins).
MARKETPLACE_PAGES = {
    "/account/orders": "orders.html",
    "/account/subscription": "subscription.html",
    "/teach/earnings": "earnings.html",
    "/admin/revenue": "revenue.html",
    "/teach/courses/{course}/promotion-codes": "promotion-codes.html",
    "/admin/promotion-codes": "admin-promotion-codes.html",
}

# The default policy plus blob: media for the lesson page's player (Media Source Extensions).
PLAYER_CSP = f"{CSP}; media-src 'self' blob:"
PAGE_OVERRIDES = {
    "/learn/{lesson}": {"Content-Security-Policy": PLAYER_CSP},
}

PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def add_page_routes(app: web.Application, static: Path) -> None:
    """Add ``GET`` (and ``HEAD``) for each page, serving its HTML file from ``static``."""
    for path, filename in PAGES.items():
        app.router.add_get(path, _page(static / filename, PAGE_HEADERS))
    # Before COURSE_PAGES: /teach/earnings must not be taken for the editor's /teach/{course}.
    for path, filename in MARKETPLACE_PAGES.items():
        app.router.add_get(path, _page(static / filename, {}))
    for path, filename in COURSE_PAGES.items():
        app.router.add_get(path, _page(static / filename, PAGE_OVERRIDES.get(path, {})))
    for path, filename in GRADING_PAGES.items():
        app.router.add_get(path, _page(static / filename, {}))


def _page(file: Path, headers: dict[str, str]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        # FileResponse stats and reads the file off the event loop; headers set here win over
        # the defaults that security_headers adds with setdefault.
        return web.FileResponse(file, headers=headers)

    return handler
