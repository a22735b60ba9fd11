"""The review app's HTTP side: a Starlette app behind a random token, served by uvicorn.

Every request needs the token: the page's address carries it once (`/?token=...`, then a
same-site cookie), and every API call sends it in a header, which a page of another site
cannot do. A request another site makes (its `Origin` or `Sec-Fetch-Site` says so) is
refused, and so is a `Host` this server does not answer to (DNS rebinding). Frames are
named by their ids in the store's order, never by a path.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import secrets
import socket
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from distil.errors import UsageError
from distil.review.app.session import Conflict, ReviewSession
from distil.store import StoreError

logger = logging.getLogger(__name__)

TOKEN_HEADER = "x-distil-token"
COOKIE = "distil_token"
MAX_BODY = 4 << 20  # bytes a request body may have (a save of 2,000 labels is far less)
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def create_app(session: ReviewSession, token: str, hosts: tuple[str, ...] = ()) -> Starlette:
    """The app for `session`. `hosts`: the Host names it answers to besides localhost and
    127.0.0.1 (none needed for those; `*` for any, when it listens on the network)."""
    allowed_hosts = {"127.0.0.1", "localhost", "[::1]", *hosts}

    def allowed(request: Request, api: bool) -> Response | None:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
        if "*" not in allowed_hosts and host not in allowed_hosts:
            return PlainTextResponse("unknown host", status_code=421)
        if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return PlainTextResponse("cross-site requests are refused", status_code=403)
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
            return PlainTextResponse("cross-site requests are refused", status_code=403)
        given = request.headers.get(TOKEN_HEADER) if api else None
        if given is None and not api:
            given = request.query_params.get("token") or request.cookies.get(COOKIE)
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse("a valid token is needed", status_code=401)
        return None

    def api(handler):
        async def endpoint(request: Request) -> Response:
            refused = allowed(request, api=True)
            if refused is not None:
                return refused
            body: dict[str, Any] = {}
            if request.method == "POST":
                raw = await request.body()
                if len(raw) > MAX_BODY:
                    return _error("request too large", 413)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return _error("the body is not JSON", 400)
                if not isinstance(body, dict):
                    return _error("the body is not a JSON object", 400)
            try:
                return await run_in_threadpool(handler, request, body)
            except Conflict as e:
                return _error(str(e), 409)
            except StoreError as e:  # the store is busy (a label run) or damaged
                return _error(str(e), 409)
            except UsageError as e:
                return _error(str(e), 400)
            except (KeyError, IndexError):
                return _error("no such frame", 404)
            except Exception:
                logger.exception("review app: a bug answering %s", request.url.path)
                return _error("distil failed here (a bug): the server's log has the traceback", 500)

        return endpoint

    def index(request: Request) -> Response:
        refused = allowed(request, api=False)
        if refused is not None:
            return refused
        page = resources.files("distil.review.app").joinpath("static/index.html").read_text()
        page = page.replace("{{token}}", html.escape(token)).replace(
            "{{title}}", html.escape(str(session.label_dir))
        )
        response = HTMLResponse(page, headers=_PAGE_HEADERS)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    def static(request: Request) -> Response:
        refused = allowed(request, api=False)
        if refused is not None:
            return refused
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        data = resources.files("distil.review.app").joinpath(f"static/{name}").read_bytes()
        return Response(data, media_type=STATIC[name], headers={"cache-control": "no-store"})

    def info(request: Request, body: dict) -> Response:
        ontology = session.ontology
        limits = ontology.limits
        return JSONResponse(
            {
                "store": str(session.label_dir),
                "classes": list(ontology.class_names),
                "thresholds": [round(float(t), 4) for t in limits.box_threshold],
                "segmenter": getattr(session.segmenter, "name", None),
                "video_model": session.video_model,
                "text_model": getattr(session.text_model, "name", None),
                "masks": session.has_masks,
                "reviewer": session.reviewer,
                "frames": session.settings.frames.value,
                "progress": session.progress(),
            }
        )

    def claim(request: Request, body: dict) -> Response:
        after = body.get("after")
        frame_id = session.claim(_client(body), None if after is None else int(after))
        return JSONResponse({"frame": frame_id, "progress": session.progress()})

    def hold(request: Request, body: dict) -> Response:
        session.hold(_client(body), int(body["frame"]))
        return JSONResponse({"held": True})

    def release(request: Request, body: dict) -> Response:
        session.release(_client(body))
        return JSONResponse({"released": True})

    def frame(request: Request, body: dict) -> Response:
        return JSONResponse(session.frame(int(request.path_params["frame_id"])))

    def image(request: Request, body: dict) -> Response:
        data, media_type = session.image(int(request.path_params["frame_id"]))
        return Response(data, media_type=media_type, headers={"cache-control": "no-store"})

    def prompt(request: Request, body: dict) -> Response:
        points = body.get("points") or []
        if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 3 for p in points
        ):
            raise UsageError("points: a list of [x, y, 1 or 0]")
        answer = session.prompt(int(request.path_params["frame_id"]), points, body.get("box"))
        return JSONResponse(answer)

    def text(request: Request, body: dict) -> Response:
        frame_id = int(request.path_params["frame_id"])
        answer = session.find_text(frame_id, body.get("phrase") or "", int(body.get("class_id", 0)))
        return JSONResponse(answer)

    def propagate(request: Request, body: dict) -> Response:
        labels = body.get("labels")
        if not isinstance(labels, list):
            raise UsageError("labels: a list of {xyxy, class_id, origin, mask}")
        frame_id = int(request.path_params["frame_id"])
        answer = session.propagate(
            frame_id, labels, bool(body.get("backward")), int(body.get("frames") or 10)
        )
        return JSONResponse(answer)

    def save(request: Request, body: dict) -> Response:
        labels = body.get("labels")
        if not isinstance(labels, list):
            raise UsageError("labels: a list of {xyxy, class_id, origin, mask}")
        saved = session.save(
            _client(body),
            int(request.path_params["frame_id"]),
            labels,
            float(body.get("seconds") or 0.0),
        )
        return JSONResponse({**saved, "progress": session.progress()})

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/info", api(info)),
        Route("/api/claim", api(claim), methods=["POST"]),
        Route("/api/hold", api(hold), methods=["POST"]),
        Route("/api/release", api(release), methods=["POST"]),
        Route("/api/frames/{frame_id:int}", api(frame)),
        Route("/api/frames/{frame_id:int}/image", api(image)),
        Route("/api/frames/{frame_id:int}/prompt", api(prompt), methods=["POST"]),
        Route("/api/frames/{frame_id:int}/text", api(text), methods=["POST"]),
        Route("/api/frames/{frame_id:int}/propagate", api(propagate), methods=["POST"]),
        Route("/api/frames/{frame_id:int}/save", api(save), methods=["POST"]),
    ]
    return Starlette(routes=routes)


# The page loads nothing from elsewhere, is never framed, and sends no referrer.
_PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _client(body: dict) -> str:
    client = body.get("client")
    if not isinstance(client, str) or not 1 <= len(client) <= 100:
        raise UsageError("client: the tab's id (a string)")
    return client


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), so the URL printed is the one
    served; a port in use is the user's to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(f"--host/--port: cannot listen on {host}:{port} ({e.strerror})") from None
    sock.listen(128)
    return sock


def serve(session: ReviewSession, host: str, port: int, on_ready=None) -> None:
    """Serve `session` until interrupted; `on_ready(url)` is called with the address to
    open (token included) once the socket listens."""
    import uvicorn

    token = new_token()
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    hosts = ("*",) if host in ("0.0.0.0", "::") else (host,)
    app = create_app(session, token, hosts)
    url = f"http://{shown_host}:{bound_port}/?token={token}"
    if on_ready is not None:
        on_ready(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
