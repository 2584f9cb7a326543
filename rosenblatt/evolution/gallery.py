"""The web page of interactive evolution: a gallery served on 127.0.0.1 (notes: "Neuroevolution").

A small standard-library HTTP server around an :class:`~.interactive.Interactive`
session. The page shows the gallery; clicking an image chooses it as a parent
(click again to drop it); buttons breed the next generation, undo the last
one, or save the chosen images (PNG and genome JSON, written atomically).

Routes (all answers JSON except the page and the images):

* ``GET /`` the page; ``GET /state`` the session's state;
* ``GET /image/<i>.png?g=<generation>`` gallery image ``i``;
* ``POST /next`` ``{"parents": [i, ...]}``, ``POST /undo``,
  ``POST /save`` ``{"index": i}`` (answers the two paths written).

Only the loopback interface is ever bound: nothing here is meant for a network.
Binding to loopback does not stop a page of another site, open in the same
browser, from sending requests to it (cross-site request forgery, DNS
rebinding), so the server also refuses:

* any request whose ``Host`` is not ``127.0.0.1:<port>`` or ``localhost:<port>``
  (403: a rebound host name can neither read the page nor act);
* a POST from another ``Origin`` (403), without the session's token in an
  ``X-Gallery-Token`` header (403; the token, :attr:`GalleryServer.token`, is
  written into the page the server serves, which another site cannot read), or
  whose ``Content-Type`` is not ``application/json`` (415). A custom header or
  a JSON body make a browser ask the server first (a CORS preflight), which
  it never approves; a plain cross-site form cannot send either.

Every failure is answered: 400 for a bad request, 404 for an unknown path,
500 (with the error's type and message) for a failure on the server's side.
"""

import hmac
import html
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..checks import boolean, positive_int

__all__ = ["GalleryServer"]

LOOPBACK = "127.0.0.1"

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>rosenblatt: interactive evolution</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
#gallery {{ display: flex; flex-wrap: wrap; gap: 8px; }}
#gallery img {{ border: 4px solid #ddd; cursor: pointer; image-rendering: pixelated;
               width: {size}px; height: {size}px; }}
#gallery img.chosen {{ border-color: #d33; }}
button {{ font-size: 1em; margin-right: .5em; }}
</style></head>
<body>
<h1>Interactive evolution</h1>
<p>Generation <span id="generation">{generation}</span>. Click the images you like
(the parents of the next generation), then breed.</p>
<p><button id="next">Next generation</button><button id="undo"{undo}>Undo</button>
<button id="save">Save chosen</button> <span id="message"></span></p>
<div id="gallery">{images}</div>
<script>
const chosen = new Set();
document.querySelectorAll('#gallery img').forEach(img => img.addEventListener('click', () => {{
  const i = Number(img.dataset.index);
  if (chosen.has(i)) {{ chosen.delete(i); img.classList.remove('chosen'); }}
  else {{ chosen.add(i); img.classList.add('chosen'); }}
}}));
const token = {token};
async function post(path, body) {{
  const r = await fetch(path, {{method: 'POST',
                               headers: {{'Content-Type': 'application/json',
                                         'X-Gallery-Token': token}},
                               body: JSON.stringify(body || {{}})}});
  let data;
  try {{ data = await r.json(); }}
  catch (e) {{ data = {{error: 'HTTP ' + r.status + ' ' + r.statusText}}; }}
  if (!r.ok) {{ document.getElementById('message').textContent = data.error; return null; }}
  return data;
}}
document.getElementById('next').addEventListener('click', async () => {{
  if (await post('/next', {{parents: Array.from(chosen)}})) location.reload();
}});
document.getElementById('undo').addEventListener('click', async () => {{
  if (await post('/undo')) location.reload();
}});
document.getElementById('save').addEventListener('click', async () => {{
  const saved = [];
  for (const i of chosen) {{
    const d = await post('/save', {{index: i}});
    if (d) saved.push(d.png);
  }}
  if (saved.length) document.getElementById('message').textContent = 'saved ' + saved.join(', ');
}});
</script></body></html>
"""


class _Refused(Exception):
    """A request answered with an HTTP error: ``code`` and a short message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _short(error, limit=300):
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Handler(BaseHTTPRequestHandler):
    server_version = "rosenblatt-gallery"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, code, body, content_type):
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away: nobody is left to answer
            self.close_connection = True

    def _json(self, code, obj):
        self._send(code, json.dumps(obj).encode(), "application/json")

    def _body(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _Refused(400, f"Content-Length must be an integer; got "
                                f"{self.headers.get('Content-Length')[:40]!r}") from None
        if n < 0:  # read(-1) would wait for the client to close the connection
            raise _Refused(400, f"Content-Length must be >= 0; got {n}")
        if n > 1 << 16:
            raise _Refused(413, "request body too large (at most 65536 bytes)")
        try:
            text = self.rfile.read(n).decode("utf-8") if n else "{}"
            data = json.loads(text or "{}")
        except ValueError as e:  # invalid UTF-8 or JSON
            raise _Refused(400, f"the request body must be a JSON object: {e}") from None
        except RecursionError:
            raise _Refused(400, "the request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise _Refused(400, "the request body must be a JSON object")
        return data

    def _check_host(self):
        """Refuse a Host other than this server's own names (DNS rebinding)."""
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.gallery.hosts:
            raise _Refused(403, f"Host must be 127.0.0.1:{self.server.gallery.port} or "
                                f"localhost:{self.server.gallery.port}; got {host[:80]!r}")

    def _check_post(self):
        """Refuse a state-changing request that the served page did not send (CSRF)."""
        gallery = self.server.gallery
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower() not in gallery.origins:
            raise _Refused(403, f"cross-origin request refused (Origin {origin[:80]!r})")
        token = self.headers.get("X-Gallery-Token") or ""
        if not hmac.compare_digest(token.encode("utf-8", "replace"), gallery.token.encode()):
            raise _Refused(403, "missing or wrong X-Gallery-Token header: the token is in "
                                "the gallery's page (GalleryServer.token)")
        kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            raise _Refused(415, f"Content-Type must be application/json; got {kind[:80]!r}")

    def _answer(self, route):
        """Run ``route(path) -> (code, body, content_type)`` and always answer."""
        path = self.path.split("?", 1)[0]
        try:
            self._check_host()
            code, body, kind = route(path)
        except _Refused as e:
            return self._json(e.code, {"error": str(e)})
        except Exception as e:  # noqa: BLE001 - every failure gets an answer, not a hang-up
            if self.server.verbose:
                self.log_error("%s %s failed: %s", self.command, path, _short(e))
            return self._json(500, {"error": _short(e)})
        return self._send(code, body, kind)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._answer(self._get)

    def do_POST(self):  # noqa: N802 - http.server's naming
        self._answer(self._post)

    def _get(self, path):
        gallery = self.server.gallery
        with gallery.lock:
            session = gallery.session
            if path in ("/", "/index.html"):
                return 200, gallery.page().encode(), "text/html; charset=utf-8"
            if path == "/state":
                return 200, json.dumps(gallery.state()).encode(), "application/json"
            # at most 9 ASCII digits: int() of thousands of digits is refused by Python
            m = re.fullmatch(r"/image/([0-9]{1,9})\.png", path)
            if m and int(m.group(1)) < len(session.genomes):
                return 200, session.png(int(m.group(1))), "image/png"
        raise _Refused(404, f"no such page: {path[:200]}")

    def _post(self, path):
        gallery = self.server.gallery
        self._check_post()
        body = self._body()
        with gallery.lock:
            session = gallery.session
            try:
                if path == "/next":
                    session.next(body.get("parents", []))
                    answer = gallery.state()
                elif path == "/undo":
                    if not session.can_undo:
                        raise _Refused(409, "nothing to undo")
                    session.undo()
                    answer = gallery.state()
                elif path == "/save":
                    png, genome = session.save(body.get("index"), gallery.directory)
                    answer = {"png": png, "genome": genome}
                else:
                    raise _Refused(404, f"no such action: {path[:200]}")
            except (ValueError, TypeError) as e:  # the session refused the request's values
                raise _Refused(400, str(e)) from None
        return 200, json.dumps(answer).encode(), "application/json"


class GalleryServer:
    """Serve an interactive session's gallery on ``http://127.0.0.1:<port>/``.

    Parameters
    ----------
    session : Interactive
    directory : str, default "."
        Where "save" writes images and genomes.
    port : int, default 0
        0 picks a free (ephemeral) port; read it back from :attr:`url`.
    size : int, default 160
        Displayed size of each image in pixels.
    verbose : bool, default False
        Log each request (and each failure's message) to stderr.

    Attributes
    ----------
    url, port :
        Where the gallery is served.
    token : str
        A random secret, new for each server, that the served page sends in
        the ``X-Gallery-Token`` header of each POST; a script driving the
        server sends it too (with ``Content-Type: application/json``).

    Use :meth:`start` (a background thread; tests) or :meth:`serve_forever`
    (the command line), and :meth:`close`; also a context manager.

    Examples
    --------
    >>> import urllib.request, rosenblatt as rb
    >>> session = rb.evolution.Interactive(population=4, width=8, height=8, rng=0)
    >>> with GalleryServer(session).start() as server:
    ...     page = urllib.request.urlopen(server.url).read().decode()
    >>> 'id="gallery"' in page
    True
    """

    def __init__(self, session, directory=".", port=0, size=160, verbose=False):
        from .interactive import Interactive

        if not isinstance(session, Interactive):
            raise TypeError(f"GalleryServer: session must be an Interactive; got "
                            f"{type(session).__name__}")
        self.session = session
        self.directory = directory
        self.size = positive_int("GalleryServer", "size", size)
        port = positive_int("GalleryServer", "port", port, allow_zero=True)
        if port > 65535:
            raise ValueError(f"GalleryServer: port must be 0 (any free port) or a port number "
                             f"up to 65535; got {port}")
        verbose = boolean("GalleryServer", "verbose", verbose)  # before the socket is bound
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((LOOPBACK, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.gallery = self
        self.httpd.verbose = verbose
        self._thread = None
        #: The secret that the served page sends with each POST (``X-Gallery-Token``).
        self.token = secrets.token_urlsafe(24)
        names = [f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"]
        if self.port == 80:  # a browser leaves the default port out
            names += [LOOPBACK, "localhost"]
        self.hosts = frozenset(names)
        self.origins = frozenset(f"http://{h}" for h in names)

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}/"

    def state(self):
        s = self.session
        return {"generation": s.generation, "population": len(s.genomes),
                "ids": [g.id for g in s.genomes], "can_undo": s.can_undo,
                "chosen": [list(c) for c in s.history]}

    def page(self):
        s = self.session
        images = "\n".join(
            f'<img id="image-{i}" data-index="{i}" alt="genome {g.id}" '
            f'src="/image/{i}.png?g={s.generation}-{g.id}">' for i, g in enumerate(s.genomes))
        return _PAGE.format(size=self.size, generation=html.escape(str(s.generation)),
                            undo="" if s.can_undo else " disabled", images=images,
                            token=json.dumps(self.token))

    def start(self):
        """Serve from a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name="rosenblatt-gallery")
        self._thread.start()
        return self

    def serve_forever(self):
        self.httpd.serve_forever()

    def close(self):
        """Stop serving and release the port."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
