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
"""

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
async function post(path, body) {{
  const r = await fetch(path, {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
                               body: JSON.stringify(body || {{}})}});
  const data = await r.json();
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


class _Handler(BaseHTTPRequestHandler):
    server_version = "rosenblatt-gallery"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, code, body, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code, obj):
        self._send(code, json.dumps(obj).encode(), "application/json")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0:  # read(-1) would wait for the client to close the connection
            raise ValueError(f"Content-Length must be >= 0; got {n}")
        if n > 1 << 16:
            raise ValueError("request body too large")
        text = self.rfile.read(n).decode("utf-8") if n else "{}"
        data = json.loads(text or "{}")
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data

    def do_GET(self):  # noqa: N802 - http.server's naming
        gallery = self.server.gallery
        path = self.path.split("?", 1)[0]
        with gallery.lock:
            session = gallery.session
            if path in ("/", "/index.html"):
                return self._send(200, gallery.page().encode(), "text/html; charset=utf-8")
            if path == "/state":
                return self._json(200, gallery.state())
            m = re.fullmatch(r"/image/(\d+)\.png", path)
            if m and int(m.group(1)) < len(session.genomes):
                return self._send(200, session.png(int(m.group(1))), "image/png")
        return self._json(404, {"error": f"no such page: {path}"})

    def do_POST(self):  # noqa: N802 - http.server's naming
        gallery = self.server.gallery
        path = self.path.split("?", 1)[0]
        try:
            body = self._body()
            with gallery.lock:
                session = gallery.session
                if path == "/next":
                    session.next(body.get("parents", []))
                    return self._json(200, gallery.state())
                if path == "/undo":
                    if not session.can_undo:
                        return self._json(409, {"error": "nothing to undo"})
                    session.undo()
                    return self._json(200, gallery.state())
                if path == "/save":
                    png, genome = session.save(body.get("index"), gallery.directory)
                    return self._json(200, {"png": png, "genome": genome})
        except (ValueError, TypeError) as e:
            return self._json(400, {"error": str(e)})
        return self._json(404, {"error": f"no such action: {path}"})


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
        Log each request to stderr.

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
        self.size = int(size)
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((LOOPBACK, int(port)), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.gallery = self
        self.httpd.verbose = bool(verbose)
        self._thread = None

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
                            undo="" if s.can_undo else " disabled", images=images)

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
