"""Interactive evolution: the scripted loop, undo, saving, shaping, the web page over HTTP,
and a headless browser clicking through two generations."""

import json
import os
import shutil
import struct
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest

import rosenblatt as rb

ev = rb.evolution


def decode_png(data):
    """A minimal PNG reader for 8-bit grey/RGB images written with filter 0 (checks CRCs)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color = header[:4]
    assert depth == 8
    channels = {0: 1, 2: 3}[color]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * channels)
    assert (raw[:, 0] == 0).all()
    img = raw[:, 1:].reshape(h, w, channels)
    return img[:, :, 0] if channels == 1 else img


def test_png_round_trip_grey_and_rgb():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (5, 7)).astype(np.uint8)
    rgb = rng.integers(0, 256, (4, 3, 3)).astype(np.uint8)
    np.testing.assert_array_equal(decode_png(ev.encode_png(grey)), grey)
    np.testing.assert_array_equal(decode_png(ev.encode_png(rgb)), rgb)
    with pytest.raises(TypeError, match="uint8"):
        ev.encode_png(grey.astype(float))
    with pytest.raises(ValueError, match="height, width"):
        ev.encode_png(np.zeros((2, 2, 2), np.uint8))
    try:  # matplotlib's own reader agrees, where it is installed
        import matplotlib.image as mpimg
    except ImportError:
        return
    import io

    back = mpimg.imread(io.BytesIO(ev.encode_png(rgb)), format="png")
    np.testing.assert_array_equal(np.round(back * 255).astype(np.uint8), rgb)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (2, 0, 3), (0, 0, 3)])
def test_png_refuses_an_empty_image(shape, tmp_path):
    # the PNG format needs width and height >= 1: an empty image has no valid file
    with pytest.raises(ValueError, match=r"encode_png: image must have at least one row and "
                                         r"one column; got \(" + str(shape[0])):
        ev.encode_png(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match="at least one row"):
        ev.write_png(str(tmp_path / "empty.png"), np.zeros(shape, np.uint8))
    assert not os.listdir(tmp_path)


def _session(**kw):
    kw.setdefault("population", 6)
    return ev.Interactive(width=12, height=10, rng=0, **kw)


def test_scripted_loop_keeps_parents_and_undo_restores():
    picks = iter([[2, 4], [0]])
    s = _session(chooser=lambda images: next(picks))
    first = list(s.genomes)
    images = s.images()
    assert len(images) == 6 and images[0].shape == (10, 12) and images[0].dtype == np.uint8
    s.run(1)
    assert s.genomes[0] is first[2] and s.genomes[1] is first[4]  # parents survive
    assert all(g.id not in {f.id for f in first} for g in s.genomes[2:])
    second = list(s.genomes)
    result = s.run(1)
    # this run's choices only (audit a5 #16); the session keeps them all
    assert result.history["chosen"] == [[0]] and result.best is second[0]
    assert s.history == [[2, 4], [0]]
    assert s.generation == 2
    s.undo()
    assert s.generation == 1 and s.genomes == second
    s.undo()
    assert s.genomes == first and not s.can_undo
    with pytest.raises(ValueError, match="nothing to undo"):
        s.undo()


def test_reproducible_and_color():
    a = _session(color=True)
    b = _session(color=True)
    a.next([1, 3])
    b.next([1, 3])
    assert [g.to_json() for g in a.genomes] == [g.to_json() for g in b.genomes]
    assert a.images()[0].shape == (10, 12, 3)


def test_save_writes_png_and_genome_and_load_resumes(tmp_path):
    s = _session()
    s.next([1])
    png, genome = s.save(0, str(tmp_path))
    np.testing.assert_array_equal(decode_png(open(png, "rb").read()), s.images()[0])
    g = ev.Genome.load(genome)
    assert g.to_dict()["connections"] == s.genomes[0].to_dict()["connections"]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    resumed = ev.Interactive.load([genome], population=4, width=12, height=10, rng=1)
    np.testing.assert_array_equal(resumed.images()[0], s.images()[0])
    assert len(resumed.genomes) == 4


def test_genomes_decide_the_colour_and_an_explicit_colour_must_agree(tmp_path):
    grey = _session()
    rgb = _session(color=True)
    # RGB genomes make an RGB session without color=True
    assert ev.Interactive(genomes=rgb.genomes[:2], population=2, width=4, height=4,
                          rng=0).color is True
    assert ev.Interactive(genomes=grey.genomes[:2], population=2, width=4, height=4,
                          rng=0).color is False
    with pytest.raises(ValueError, match="color=True but the genomes are grey"):
        ev.Interactive(genomes=grey.genomes[:2], color=True, population=2, rng=0)
    _, path = grey.save(0, str(tmp_path))
    with pytest.raises(ValueError, match="color=True but the genomes are grey"):
        ev.Interactive.load(path, color=True, population=2, rng=0)


def test_shaping_hook_sets_an_objective_between_generations():
    bright = lambda image: float(image.mean())  # noqa: E731 - the person's new objective

    def shaping(session):
        if session.generation == 1:
            session.objective = bright

    s = _session(population=8, brood=64, shaping=shaping)
    s.next([0, 1])
    unshaped = np.mean([im.mean() for im in s.images()[2:]])
    s.next([0, 1])
    assert s.objective is bright
    shaped = np.mean([im.mean() for im in s.images()[2:]])
    assert shaped > unshaped  # the best 6 of a brood of 64 by brightness
    s.undo()
    assert s.objective is None  # undo restores the objective too


def test_a_failed_next_leaves_the_session_unchanged():
    def objective(image):
        raise ValueError("objective failed")

    s = _session(objective=objective)
    first = list(s.genomes)
    with pytest.raises(ValueError, match="objective failed"):
        s.next([0])
    assert (s.generation, s.history, s.can_undo, s.genomes) == (0, [], False, first)
    s.objective = None
    s.next([1])
    s.undo()  # one step made, one step undone: back at the start, nothing more to undo
    assert (s.generation, s.history, s.can_undo, s.genomes) == (0, [], False, first)

    def shaping(session):  # a hook that changes the session, then fails
        session.width, session.objective = 16, len
        session.config = ev.cppn_config()
        raise RuntimeError("shaping failed")

    config = s.config
    s.shaping = shaping
    with pytest.raises(RuntimeError, match="shaping failed"):
        s.next([0])
    assert (s.width, s.objective, s.config, s.generation, s.history, s.can_undo) == (
        12, None, config, 0, [], False)
    assert s.genomes == first


def test_genome_of_another_kind_is_a_clear_error():
    xor_genome = ev.Genome.minimal(0, 2, 1, weights=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="2 inputs and 1 outputs; an image CPPN has 3 inputs"):
        ev.Interactive(genomes=[xor_genome])
    with pytest.raises(TypeError, match="expected a CPPN Genome"):
        ev.Interactive(genomes=[np.zeros(3)])
    s = _session()
    with pytest.raises(ValueError, match="image index"):
        s.next([6])
    with pytest.raises(ValueError, match="at least one parent"):
        s.next([])
    with pytest.raises(ValueError, match="needs a chooser"):
        s.run(1)


# -- the web page ----------------------------------------------------------------------------
def _request(url, data=None, token=None, headers=None):
    """GET ``url``, or POST ``data`` as JSON with the server's ``token`` (as the page does)."""
    body = None if data is None else json.dumps(data).encode()
    sent = {"Content-Type": "application/json"}
    if token is not None:
        sent["X-Gallery-Token"] = token
    sent.update(headers or {})
    req = urllib.request.Request(url, data=body, method="GET" if data is None else "POST",
                                 headers=sent)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def test_http_gallery_choices_undo_save(tmp_path):
    s = _session()
    with ev.GalleryServer(s, directory=str(tmp_path)).start() as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        code, kind, page = _request(server.url)
        assert code == 200 and kind.startswith("text/html")
        assert page.decode().count('<img id="image-') == 6
        code, kind, png = _request(server.url + "image/3.png?g=0")
        assert code == 200 and kind == "image/png"
        np.testing.assert_array_equal(decode_png(png), s.images()[3])
        first = [g.id for g in s.genomes]
        code, _, body = _request(server.url + "next", {"parents": [3, 5]}, server.token)
        state = json.loads(body)
        assert code == 200 and state["generation"] == 1 and state["ids"][:2] == [first[3],
                                                                                 first[5]]
        code, _, body = _request(server.url + "save", {"index": 0}, server.token)
        paths = json.loads(body)
        assert code == 200 and os.path.exists(paths["png"]) and os.path.exists(paths["genome"])
        assert ev.Genome.load(paths["genome"]).id == first[3]
        code, _, body = _request(server.url + "undo", {}, server.token)
        assert code == 200 and json.loads(body)["ids"] == first
        code, _, body = _request(server.url + "undo", {}, server.token)
        assert code == 409 and "nothing to undo" in json.loads(body)["error"]
        code, _, body = _request(server.url + "next", {"parents": [99]}, server.token)
        assert code == 400 and "image index" in json.loads(body)["error"]
        code, _, _ = _request(server.url + "image/99.png")
        assert code == 404
        code, _, body = _request(server.url + "state")
        assert json.loads(body)["generation"] == 0


def test_a_negative_content_length_is_answered_at_once(tmp_path):
    # read(-1) would have waited for the client to close the connection
    import http.client

    with ev.GalleryServer(_session(), directory=str(tmp_path)).start() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.putrequest("POST", "/next")
        conn.putheader("Content-Length", "-1")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("X-Gallery-Token", server.token)
        conn.endheaders()
        reply = conn.getresponse()
        assert reply.status == 400 and "Content-Length" in json.loads(reply.read())["error"]
        conn.close()


def _raw(server, method, path, body=b"", headers=None):
    """One request with exactly the given headers (http.client adds only Host and Length)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body if method == "POST" else None,
                     headers=headers or {})
        reply = conn.getresponse()
        data = reply.read()
        kind = reply.headers.get("Content-Type")
        return reply.status, json.loads(data) if kind == "application/json" else data
    finally:
        conn.close()


def test_gallery_answers_every_failure_with_an_error_status(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    s = _session()
    with ev.GalleryServer(s, directory=str(blocker)).start() as server:
        ok = {"Content-Type": "application/json", "X-Gallery-Token": server.token}
        # saving into a directory that cannot be made: the server's failure, a 500
        code, body = _raw(server, "POST", "/save", b'{"index": 0}', ok)
        assert code == 500 and "FileExistsError" in body["error"]
        # nesting deep enough to exhaust json's recursion: a bad request, well under 64 KB
        deep = b'{"parents": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
        code, body = _raw(server, "POST", "/next", deep, ok)
        assert code == 400 and "nested too deeply" in body["error"]
        # a shaping objective that fails: 500, and the session did not move
        s.objective = lambda image: 1 / 0
        code, body = _raw(server, "POST", "/next", b'{"parents": [0]}', ok)
        assert code == 500 and "ZeroDivisionError" in body["error"]
        code, state = _raw(server, "GET", "/state")
        assert code == 200 and state["generation"] == 0 and state["chosen"] == []
        assert not state["can_undo"]
        # an image index too long for int(): no such image
        for digits in (4000, 5000):
            code, body = _raw(server, "GET", "/image/" + "9" * digits + ".png")
            assert code == 404 and "no such page" in body["error"]
        code, body = _raw(server, "GET", "/image/%D9%A3.png")  # an Arabic-Indic digit
        assert code == 404
        # a failure while drawing a page is a 500 too
        s.genomes = None
        code, body = _raw(server, "GET", "/")
        assert code == 500 and "TypeError" in body["error"]


def test_gallery_refuses_cross_site_requests(tmp_path):
    s = _session()
    with ev.GalleryServer(s, directory=str(tmp_path)).start() as server:
        host = f"127.0.0.1:{server.port}"
        ok = {"Content-Type": "application/json", "X-Gallery-Token": server.token}
        # a page of another site: a "simple" text/plain form post, no token
        evil = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
        for path, body in (("/next", b'{"parents": [0]}'), ("/save", b'{"index": 1}'),
                           ("/undo", b"{}")):
            code, answer = _raw(server, "POST", path, body, evil)
            assert code == 403
            code, answer = _raw(server, "POST", path, body, {"Content-Type": "text/plain"})
            assert code == 403 and "token" in answer["error"]
            # DNS rebinding: the attacker's host name, even with a right-looking request
            code, answer = _raw(server, "POST", path, body, dict(ok, Host="evil.example:80"))
            assert code == 403 and "Host" in answer["error"]
            # another origin that somehow knows the token
            code, answer = _raw(server, "POST", path, body,
                                dict(ok, Origin="http://evil.example"))
            assert code == 403 and "Origin" in answer["error"]
        code, answer = _raw(server, "POST", "/next", b'{"parents": [0]}',
                            dict(ok, **{"X-Gallery-Token": "guess"}))
        assert code == 403 and "token" in answer["error"]
        code, answer = _raw(server, "POST", "/next", b'{"parents": [0]}',
                            dict(ok, **{"Content-Type": "text/plain"}))
        assert code == 415 and "application/json" in answer["error"]
        # a rebound host name cannot read the page (its token) nor the state either
        for path in ("/", "/state", "/image/0.png"):
            code, answer = _raw(server, "GET", path, headers={"Host": "evil.example"})
            assert code == 403 and "Host" in answer["error"]
        assert s.generation == 0 and not os.listdir(tmp_path)
        # the page's own requests: its origin, its token, JSON; localhost names the same host
        code, page = _raw(server, "GET", "/")
        assert code == 200 and server.token in page.decode()
        code, state = _raw(server, "POST", "/next", b'{"parents": [0]}',
                           dict(ok, Origin=f"http://{host}"))
        assert code == 200 and state["generation"] == 1
        code, state = _raw(server, "POST", "/undo", b"{}",
                           dict(ok, Host=f"localhost:{server.port}",
                                Origin=f"http://localhost:{server.port}"))
        assert code == 200 and state["generation"] == 0
        code, _ = _raw(server, "POST", "/undo", b"{}",
                       dict(ok, **{"Content-Type": "application/json; charset=utf-8"}))
        assert code == 409  # accepted (nothing to undo)
    other = ev.GalleryServer(_session())
    assert other.token != server.token and len(server.token) >= 20
    other.close()


def test_gallery_server_needs_a_session():
    with pytest.raises(TypeError, match="must be an Interactive"):
        ev.GalleryServer(object())


def test_cli_interactive_serves_the_gallery(tmp_path):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(rb.__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.Popen([sys.executable, "-m", "rosenblatt.cli", "evolve", "--interactive",
                             "--no-browser", "--port", "0", "--out", str(tmp_path),
                             "--population", "4", "--size", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() else "")
        url = line[line.index("http://"):].split()[0]
        code, _, page = _request(url)
        assert code == 200 and page.decode().count('<img id="image-') == 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- a real browser ----------------------------------------------------------------------------
def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.path.exists(chromium) and os.path.exists(driver_path)):
        pytest.skip("chromium and chromedriver are not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-proxy-server"):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as e:  # noqa: BLE001 - a browser that cannot start here is a skip
        pytest.skip(f"chromium did not start: {type(e).__name__}: {e}")


def test_headless_browser_clicks_through_two_generations(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    s = _session()
    driver = _browser()
    try:
        with ev.GalleryServer(s, directory=str(tmp_path)).start() as server:
            driver.get(server.url)
            wait = WebDriverWait(driver, 20)
            for generation, picks in ((1, [1, 4]), (2, [0])):
                before = [g.id for g in s.genomes]
                for i in picks:
                    driver.find_element(By.ID, f"image-{i}").click()
                assert "chosen" in driver.find_element(By.ID, f"image-{picks[0]}").get_attribute(
                    "class")
                driver.find_element(By.ID, "next").click()
                wait.until(ec.text_to_be_present_in_element((By.ID, "generation"),
                                                            str(generation)))
                assert [g.id for g in s.genomes][:len(picks)] == [before[i] for i in picks]
            # the images really decoded in the browser
            width = driver.execute_script(
                "return document.getElementById('image-0').naturalWidth")
            assert width == 12
            driver.find_element(By.ID, "image-0").click()
            driver.find_element(By.ID, "save").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "saved"))
            assert any(f.endswith(".png") for f in os.listdir(tmp_path))
            # a failure on the server's side reaches the person as a message
            blocker = tmp_path / "a-file"
            blocker.write_text("x")
            server.directory = str(blocker)
            driver.find_element(By.ID, "save").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "FileExistsError"))
            driver.find_element(By.ID, "undo").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "generation"), "1"))
            assert s.generation == 1
    finally:
        driver.quit()


def test_cli_interactive_rejects_a_genome_of_another_kind(tmp_path, capsys):
    from rosenblatt.cli.main import main

    path = tmp_path / "xor.json"
    ev.Genome.minimal(0, 2, 1, weights=[0.1, 0.2, 0.3]).save(path)
    assert main(["evolve", "--interactive", "--no-browser", "--load", str(path)]) == 2
    err = capsys.readouterr().err
    assert "genome 0 has 2 inputs" in err and "image CPPN has 3 inputs" in err
    assert main(["evolve"]) == 2
    assert "give a CONFIG.toml, or --interactive" in capsys.readouterr().err
