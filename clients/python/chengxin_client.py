"""chengxin_client: a small client for chengxind's msgpack protocol (docs/protocol.md).

Python 3.11 standard library plus msgpack (Debian ``python3-msgpack``), nothing else.

    from chengxin_client import Client, ChengxinError

    with Client("127.0.0.1", 7411, timeout=5.0, token="...") as c:
        print(c.entity("91350100M000100Y43")["flags"])
        for rec in c.iter_records("91350100M000100Y43", category="penalty"):
            print(rec["record_id"], rec["decision_date"])
        verdicts = c.check_many(codes, "procurement")        # any number of codes, pipelined
        try:
            c.call("nope")
        except ChengxinError as e:
            print(e.code, e.message)                          # unknown_op ...

What it does for you:

- Framing: a 4-byte big-endian length, then one msgpack map. A request whose frame is over the
  server's limit (``max_frame``, 1 MiB by default like ``chengxind --max-frame``) is refused here,
  before anything is sent (`FrameTooLarge`), because the server would answer ``too_large`` and
  close the connection.
- Ids: unsigned 64-bit, allocated per connection, wrapping from 2**64 - 1 to 1 (0 is what the
  server uses when it cannot read an id). Every response is matched against the id it answers.
- Pipelining: `pipeline` and `check_many` keep up to ``depth`` requests in flight and read
  answers while they send, so a deep pipeline never deadlocks against the server's output cap
  (the server stops reading a connection that has 4 MiB of answers queued).
- Reconnects: when the connection is lost, a *read* (ping, entity, records, check, search,
  aggregate, stats) is sent again on a new connection, after a bounded exponential back-off
  with jitter (``retries`` attempts, ``backoff`` doubling up to ``backoff_max`` seconds), and the
  connection's token is presented again. A *write* (ingest, repair, revoke, objection,
  reinstate) is never sent twice: if the connection is lost after it may have reached the
  server, `ConnectionLost` is raised with ``sent=True`` and the caller must find out what
  happened (ingest is idempotent by (authority, record_id); a lifecycle op answers
  ``changed: 0`` when repeated). A connection seen closed *before* a request is sent (the server
  restarted while the client was idle) is replaced first, for writes too, since nothing was
  sent yet. A timeout waiting for an answer is never retried (a slow aggregate would only run
  again); a connect that timed out is, for reads.

Thread safety: a `Client` is one connection and is not safe to share between threads without a
lock; use one client per thread.
"""

from __future__ import annotations

import collections
import random
import selectors
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import msgpack

__all__ = [
    "Client",
    "connect",
    "Response",
    "ChengxinError",
    "ClientError",
    "FrameTooLarge",
    "ConnectionLost",
    "ClientTimeout",
    "ProtocolError",
    "ERROR_CODES",
    "READ_OPS",
    "WRITE_OPS",
    "OPS",
]

DEFAULT_PORT = 7411
#: The server's default request limit (``chengxind --max-frame``, docs/protocol.md section 1).
DEFAULT_MAX_FRAME = 1 << 20
#: The largest response frame accepted (as net/client.h); answers are bounded by the server's
#: ``--max-output`` (4 MiB by default), so this is generous.
DEFAULT_MAX_RESPONSE = 64 << 20
#: Codes per ``check`` request and records per ``ingest`` request (docs/protocol.md section 6).
MAX_CHECK_CODES = 1000
MAX_INGEST_RECORDS = 10000
MAX_ID = (1 << 64) - 1

#: The error codes the server sends (``cx_err_name()`` of store/cx_err.h).
ERROR_CODES = (
    "bad_frame",
    "bad_request",
    "unknown_op",
    "invalid_code",
    "not_found",
    "forbidden",
    "too_large",
    "timeout",
    "no_space",
    "read_only",
    "busy",
    "internal",
)

#: Ops that change nothing: safe to send again after a lost connection.
READ_OPS = frozenset({"ping", "entity", "records", "check", "search", "aggregate", "stats", "catalog",
                      "scorecard", "scorecards"})
#: Ops that write the store: never sent twice by this client.
WRITE_OPS = frozenset({"ingest", "repair", "revoke", "objection", "reinstate", "load", "feedback"})
#: Every op of docs/protocol.md section 5 (auth changes the connection's role).
OPS = READ_OPS | WRITE_OPS | {"auth"}
#: What is sent again after a lost connection: the reads, and auth (the same token gives the
#: same role, whatever happened to the first one).
_RETRY_OPS = READ_OPS | {"auth"}

_HDR = struct.Struct(">I")
_RECV_CHUNK = 256 * 1024


# ============================================================================ errors


class ChengxinError(Exception):
    """An error answer of the server, or (subclasses of `ClientError`) one found client-side.

    Attributes:
        code: the protocol's error code (one of `ERROR_CODES`), or for client-side errors
            ``"too_large"`` (`FrameTooLarge`), ``"connection_lost"``, ``"client_timeout"``,
            ``"protocol"``.
        message: the server's human message (it may change between versions: match on code).
        details: ingest's per-record list ``[{"index": int, "message": str}]``, else ``[]``.
        id: the request id the answer carried (0: the server could not tell which request,
            e.g. a frame over its limit; the connection is then closed), None client-side.
    """

    def __init__(self, code: str, message: str, details: Sequence[Mapping[str, Any]] | None = None,
                 id: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = list(details or [])
        self.id = id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class ClientError(ChengxinError):
    """An error found by the client, not answered by the server."""


class FrameTooLarge(ClientError):
    """The request would be a frame over ``max_frame``: nothing was sent, the connection is intact."""

    def __init__(self, size: int, limit: int, op: str):
        super().__init__("too_large", f"{op}: request of {size} bytes is over the frame limit of "
                         f"{limit} bytes (chengxind --max-frame): send less per request")
        self.size = size
        self.limit = limit


class ConnectionLost(ClientError):
    """The connection failed or closed. ``sent`` tells whether a request without an answer may
    have reached the server (then a write's outcome is unknown)."""

    def __init__(self, message: str, sent: bool = False, code: str = "connection_lost"):
        super().__init__(code, message)
        self.sent = sent


class ClientTimeout(ConnectionLost):
    """No progress for ``timeout`` seconds. The connection is closed (a late answer would be
    taken for the next request's); the request is not retried."""

    def __init__(self, message: str, sent: bool = True):
        super().__init__(message, sent, code="client_timeout")


class ProtocolError(ClientError):
    """The server sent something that is not a response of docs/protocol.md."""

    def __init__(self, message: str):
        super().__init__("protocol", message)


# ============================================================================ responses


@dataclass
class Response:
    """One answer: ``result`` when ``ok``, else ``error`` (a `ChengxinError`, not raised)."""

    id: int
    ok: bool
    result: Any = None
    error: ChengxinError | None = None

    def value(self) -> Any:
        """The result, or raises the error."""
        if self.ok:
            return self.result
        raise self.error  # type: ignore[misc]


def _response(obj: Any) -> Response:
    if not isinstance(obj, dict):
        raise ProtocolError(f"response is a {type(obj).__name__}, not a map")
    rid = obj.get("id")
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 <= rid <= MAX_ID:
        raise ProtocolError(f"response id {rid!r} is not an unsigned 64-bit integer")
    ok = obj.get("ok")
    if ok is True:
        return Response(rid, True, obj.get("result"))
    err = obj.get("error")
    if ok is not False or not isinstance(err, dict) or not isinstance(err.get("code"), str):
        raise ProtocolError(f"response {rid} has neither ok: true nor an error map")
    return Response(rid, False, error=ChengxinError(err["code"], str(err.get("message", "")),
                                                    err.get("details") or [], rid))


def _fields(fields: Mapping[str, Any]) -> dict:
    """The request's arguments without the absent ones (None: the server takes nil as absent)."""
    return {k: v for k, v in fields.items() if v is not None}


# ============================================================================ the client


class Client:
    """One connection to chengxind. Connects (and authenticates when ``token`` is given) at once.

    Args:
        host, port: where chengxind listens (``--listen``; default 127.0.0.1:7411).
        timeout: seconds without progress before a connect or a wait for the socket gives up
            (`ClientTimeout`); None waits forever.
        token: a token of the server's token file (docs/operations.md "Tokens"); the connection
            takes its role (`role`). Without one the connection is ``public``.
        max_frame: the server's ``--max-frame``; larger requests raise `FrameTooLarge` unsent.
        max_response: the largest answer accepted (else `ProtocolError` and a close).
        retries: reconnect attempts for a read after a lost connection (0: none).
        backoff, backoff_max: the first back-off delay and its cap, in seconds; the delay doubles
            per attempt and is jittered to 50-100 %.
        first_id: the first request id (1 .. 2**64 - 1); ids count up and wrap to 1.

    Raises `ConnectionLost` when the server cannot be reached, `ChengxinError` (``forbidden``)
    when the token is refused.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float | None = 10.0,
                 token: str | None = None, *, max_frame: int = DEFAULT_MAX_FRAME,
                 max_response: int = DEFAULT_MAX_RESPONSE, retries: int = 5, backoff: float = 0.05,
                 backoff_max: float = 2.0, first_id: int = 1):
        if not 1 <= first_id <= MAX_ID:
            raise ValueError("first_id must be 1 .. 2**64 - 1")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_frame = max_frame
        self.max_response = max_response
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._token = token
        self._role = "public"
        self._next_id = first_id
        self._sock: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._in = bytearray()
        self._out = bytearray()
        self._pending: collections.deque[int] = collections.deque()  # ids sent by send(), unanswered
        self._eof = ""  # why the connection ended, once its end was read
        self.reconnects = 0  #: connections made after the first (for monitoring and tests)
        self._connected_once = False
        self._open()

    @classmethod
    def connect(cls, host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float | None = 10.0,
                token: str | None = None, **options: Any) -> "Client":
        """Same as ``Client(host, port, timeout, token, **options)``."""
        return cls(host, port, timeout, token, **options)

    # ---- lifetime ------------------------------------------------------------------------

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection. Answers not yet read are lost. The client may be used again:
        the next call connects anew."""
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
        self._in.clear()
        self._out.clear()
        self._pending.clear()
        self._eof = ""
        self._role = "public"

    @property
    def connected(self) -> bool:
        """True while a connection is open (it may have been closed by the server unseen)."""
        return self._sock is not None

    @property
    def role(self) -> str:
        """The connection's role: ``public`` until an `auth` succeeds."""
        return self._role

    def _open(self) -> None:
        """Connects, then presents the token. ConnectionLost(sent=False) when unreachable."""
        self.close()
        try:
            s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.timeout as e:
            raise ClientTimeout(f"connect to {self.host}:{self.port}: no answer in {self.timeout} s",
                                sent=False) from e
        except OSError as e:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {e.strerror or e}") from e
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        self._sock = s
        self._sel = selectors.DefaultSelector()
        self._sel.register(s, selectors.EVENT_READ)
        if self._connected_once:
            self.reconnects += 1
        self._connected_once = True
        if self._token is not None:
            try:
                self._role = self._exchange([("auth", {"token": self._token})])[0].value()["role"]
            except BaseException:
                self.close()
                raise

    # ---- frames ----------------------------------------------------------------------------

    def _alloc_id(self) -> int:
        i = self._next_id
        self._next_id = 1 if i == MAX_ID else i + 1
        return i

    def _frame(self, rid: int, op: str, fields: Mapping[str, Any]) -> bytes:
        req = {"id": rid, "op": op}
        req.update(_fields(fields))
        try:
            payload = msgpack.packb(req, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"{op}: cannot encode the request as msgpack: {e}") from e
        if len(payload) > self.max_frame:
            raise FrameTooLarge(len(payload), self.max_frame, op)
        return _HDR.pack(len(payload)) + payload

    def _wait(self, want_write: bool, sent: bool) -> tuple[bool, bool]:
        """Waits until the socket is readable or (want_write) writable: (readable, writable)."""
        assert self._sock is not None and self._sel is not None
        self._sel.modify(self._sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0))
        events = self._sel.select(self.timeout)
        if not events:
            self.close()
            raise ClientTimeout(f"no progress from {self.host}:{self.port} in {self.timeout} s", sent)
        mask = events[0][1]
        return bool(mask & selectors.EVENT_READ), bool(mask & selectors.EVENT_WRITE)

    def _read_some(self) -> None:
        """Appends what the socket has to the input. The end of the connection (EOF or an error)
        is noted, not raised: answers already received are still taken first (the server may
        answer, then close: a fifth wrong token, an id-0 too_large or busy notice)."""
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(_RECV_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._eof = f"connection to {self.host}:{self.port} failed: {e.strerror or e}"
                return
            if not data:
                self._eof = f"connection to {self.host}:{self.port} closed by the server"
                return
            self._in += data
            if len(data) < _RECV_CHUNK:
                return

    def _flush(self) -> None:
        """Writes out what is buffered, reading answers meanwhile (the server may stop reading
        us until we read its answers). Stops at the end of the connection (see _recv)."""
        while self._out and not self._eof:
            readable, writable = self._wait(True, True)
            if readable:
                self._read_some()
            if writable and not self._eof:
                assert self._sock is not None
                try:
                    n = self._sock.send(self._out)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    self._eof = f"connection to {self.host}:{self.port} failed: {e.strerror or e}"
                    self._read_some()  # what the server said before it closed (too_large)
                    return
                del self._out[:n]

    def _take_frame(self) -> Response | None:
        """The next complete response in the input buffer, or None."""
        if len(self._in) < 4:
            return None
        (n,) = _HDR.unpack_from(self._in)
        if n == 0 or n > self.max_response:
            self.close()
            raise ProtocolError(f"response frame of {n} bytes (accepted: 1 .. {self.max_response})")
        if len(self._in) < 4 + n:
            return None
        payload = bytes(self._in[4:4 + n])
        del self._in[:4 + n]
        try:
            obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except Exception as e:  # msgpack raises several types for malformed data
            self.close()
            raise ProtocolError(f"response is not one msgpack value: {e}") from e
        return _response(obj)

    def _recv(self) -> Response:
        while True:
            r = self._take_frame()
            if r is not None:
                return r
            if self._eof:
                why = self._eof
                self.close()
                raise ConnectionLost(why, sent=True)
            readable, _ = self._wait(False, True)
            if readable:
                self._read_some()

    def _check_idle(self) -> None:
        """Before a request on an idle connection: is it still open? A server that restarted (or
        closed us for idleness, or refused us as busy) has sent a FIN or an unasked error
        frame; the connection is then replaced before anything is sent, for any op."""
        if self._sock is None or self._pending:
            return
        if self._in:  # bytes nobody asked for: an id-0 notice before a close
            self.close()
            return
        try:
            data = self._sock.recv(_RECV_CHUNK, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # nothing to read: open
        except OSError:
            data = b""
        # EOF, a reset, or an answer nobody asked for (an id-0 busy or timeout notice before a
        # close): this connection is finished.
        self.close()
        del data

    # ---- exchanges -------------------------------------------------------------------------

    def _exchange(self, reqs: Sequence[tuple[str, Mapping[str, Any]]], depth: int = 1,
                  done: list[Response | None] | None = None, sent: set[int] | None = None
                  ) -> list[Response]:
        """Sends reqs (skipping those already answered in done) with at most depth in flight;
        returns their responses in order. Raises ConnectionLost, ProtocolError, or a
        ChengxinError for an id-0 answer (the server closes such connections)."""
        if self._sock is None:
            raise ConnectionLost("not connected")
        if self._pending:
            raise ProtocolError("answers of send() are still unread: recv() them first")
        done = done if done is not None else [None] * len(reqs)
        sent = sent if sent is not None else set()
        todo = [i for i in range(len(reqs)) if done[i] is None]
        frames = {}
        for i in todo:  # encode everything first: a FrameTooLarge sends nothing
            rid = self._alloc_id()
            frames[i] = (rid, self._frame(rid, reqs[i][0], reqs[i][1]))
        inflight: collections.deque[int] = collections.deque()
        k = 0
        while k < len(todo) or inflight:
            while k < len(todo) and len(inflight) < max(1, depth):
                i = todo[k]
                self._out += frames[i][1]
                sent.add(i)
                inflight.append(i)
                k += 1
            self._flush()
            r = self._recv()
            i = inflight[0]
            if r.id == 0 and not r.ok:  # about the connection, not a request: it is closed next
                self.close()
                raise r.error  # type: ignore[misc]
            if r.id != frames[i][0]:
                self.close()
                raise ProtocolError(f"answer for id {r.id} where id {frames[i][0]} was next")
            inflight.popleft()
            done[i] = r
        return done  # type: ignore[return-value]

    def _delay(self, attempt: int) -> float:
        d = min(self.backoff_max, self.backoff * (2 ** attempt))
        return d * (0.5 + random.random() / 2)

    def _run(self, reqs: Sequence[tuple[str, Mapping[str, Any]]], depth: int = 1) -> list[Response]:
        """_exchange with the reconnect policy: requests not answered when a connection is lost
        are sent again on a new one, after a back-off, only if each of them is a read or was
        never sent."""
        done: list[Response | None] = [None] * len(reqs)
        sent: set[int] = set()
        attempt = 0
        while True:
            try:
                self._check_idle()
                if self._sock is None:
                    self._open()
                return self._exchange(reqs, depth, done, sent)
            except ConnectionLost as e:
                err: ChengxinError = e
                retryable = True
            except ChengxinError as e:
                if isinstance(e, ClientError) or e.id != 0:
                    raise
                err = e  # an id-0 answer: busy (too many connections) is worth waiting for
                retryable = e.code == "busy"
            self.close()
            unanswered = [i for i in range(len(reqs)) if done[i] is None]
            unsafe = sorted({reqs[i][0] for i in unanswered if i in sent and reqs[i][0] not in _RETRY_OPS})
            if isinstance(err, ClientTimeout) and err.sent:  # a connect that timed out may be retried
                raise err
            if unsafe:
                raise ConnectionLost(f"{err.message}; the outcome of {', '.join(unsafe)} is unknown "
                                     "(writes are never sent twice)", sent=True) from err
            # A write (or another op that is not a read) that was never sent had its one fresh
            # connection above: no back-off loop for it.
            if not retryable or attempt >= self.retries or any(reqs[i][0] not in _RETRY_OPS for i in unanswered):
                raise err
            time.sleep(self._delay(attempt))
            attempt += 1

    # ---- generic calls ---------------------------------------------------------------------

    def call(self, op: str, **fields: Any) -> Any:
        """Sends one request and returns its result, or raises its `ChengxinError`.

        ``fields`` are the op's arguments (None values are left out, as the server takes nil for
        absent); ``from`` is passed as ``**{"from": "2024-01-01"}``. Reads are retried on a new
        connection after a connection loss, writes never.
        """
        return self._run([(op, fields)])[0].value()

    def pipeline(self, requests: Iterable[tuple[str, Mapping[str, Any]]], depth: int = 64
                 ) -> list[Any]:
        """Sends many requests without waiting, at most ``depth`` in flight, and returns one entry
        per request in request order: its result, or its `ChengxinError` (returned, not raised,
        so that one refused request does not hide the others' answers).

        ``requests`` are ``(op, {field: value})`` pairs. Each answer is matched against its
        request's id. After a lost connection the unanswered requests are sent again if they are
        all reads; otherwise `ConnectionLost` is raised.
        """
        reqs = [(op, dict(f)) for op, f in requests]
        return [r.result if r.ok else r.error for r in self._run(reqs, depth)]

    def send(self, op: str, **fields: Any) -> int:
        """Low-level pipelining: buffers one request and returns its id (no retry, no wait).
        Answers come back in request order through `recv`."""
        self._check_idle()
        if self._sock is None:
            self._open()
        rid = self._alloc_id()
        self._out += self._frame(rid, op, fields)
        self._pending.append(rid)
        return rid

    def recv(self) -> Response:
        """Low-level pipelining: the answer to the oldest request of `send` (flushing first).
        Raises `ProtocolError` if its id is not that request's, `ConnectionLost` on a loss."""
        if not self._pending:
            raise ProtocolError("recv() without a request sent by send()")
        self._flush()
        r = self._recv()
        want = self._pending[0]
        if r.id == 0 and not r.ok:
            self.close()
            raise r.error  # type: ignore[misc]
        if r.id != want:
            self.close()
            raise ProtocolError(f"answer for id {r.id} where id {want} was next")
        self._pending.popleft()
        return r

    # ---- ops (docs/protocol.md section 5) ------------------------------------------------

    def ping(self) -> dict:
        """``ping`` -> ``{"pong": True, "today": "YYYY-MM-DD", "protocol": "1.3"}`` (the server's
        today and protocol version; docs/protocol.md "Versions")."""
        return self.call("ping")

    def catalog(self) -> dict:
        """``catalog``: ``{"actions", "lists", "measures", "categories", "display"}``, the codes
        that ``check`` and the records use, so that they need not be hard-coded."""
        return self.call("catalog")

    def auth(self, token: str) -> str:
        """``auth {token}``: switches the connection to the token's role and returns it; the token
        is kept and presented again on reconnects. A refused token raises ``forbidden`` and
        keeps the current role (the server closes a connection after its fifth wrong token)."""
        role = self._run([("auth", {"token": token})])[0].value()["role"]
        self._token = token
        self._role = role
        return role

    def entity(self, code: str, as_of: str | None = None) -> dict:
        """``entity {code, as_of?}``: one entity's status page (counts, flags, region names).
        Errors: ``invalid_code``, ``not_found``, ``bad_request``."""
        return self.call("entity", code=code, as_of=as_of)

    def records(self, code: str, category: str | None = None, cursor: str | None = None,
                limit: int | None = None, as_of: str | None = None) -> dict:
        """``records``: one page ``{"records": [...], "next": cursor or None}``, newest first;
        ``limit`` 1..1000 (server default 20). A page may be short, even empty, with a ``next``:
        keep paging while ``next`` is not None (or use `iter_records`)."""
        return self.call("records", code=code, category=category, cursor=cursor, limit=limit, as_of=as_of)

    def iter_records(self, code: str, category: str | None = None, limit: int = 100,
                     as_of: str | None = None) -> Iterator[dict]:
        """Every record of an entity the role may see, page by page (``limit`` per request),
        following the ``next`` cursors."""
        cursor = None
        while True:
            page = self.records(code, category=category, cursor=cursor, limit=limit, as_of=as_of)
            yield from page["records"]
            cursor = page.get("next")
            if cursor is None:
                return

    def check(self, codes: Sequence[str], action: str, as_of: str | None = None) -> dict:
        """``check {codes, action, as_of?}`` for up to 1000 codes: ``{"action", "as_of",
        "results": [{code, verdict, hits, incentives, ...}]}`` in the order of codes. A bad or
        unknown code is its verdict (``invalid_code``, ``not_found``), not an error; a repeated
        code is ``{"code", "verdict", "same_as": i}``."""
        return self.call("check", codes=list(codes), action=action, as_of=as_of)

    def feedback(self, receipt: str, outcome: str, note: str | None = None) -> dict:
        """``feedback {receipt, outcome, note?}``: what the approval system did with a check
        (``restricted``, ``approved_after_review``, ``approved``); the receipt is a check
        result's ``receipt``. ``{"receipt", "outcome", "action", "verdict", "checked_at",
        "previous"}``."""
        return self.call("feedback", receipt=receipt, outcome=outcome, note=note)

    def load(self, name: str, text: str) -> dict:
        """``load {name, text}`` (admin): replaces a data file (``catalog``, ``calendar``,
        ``regions``, ``scorecard``) with ``text``. ``{"name", "bytes", "log_seq"}`` (``log_seq``:
        the replicated log's sequence, 0 on a single node)."""
        return self.call("load", name=name, text=text)

    def check_many(self, codes: Sequence[str], action: str, as_of: str | None = None,
                   chunk: int = MAX_CHECK_CODES, depth: int = 8) -> list[dict]:
        """Verdicts for any number of codes: requests of ``chunk`` codes (at most 1000),
        ``depth`` of them in flight. Returns the per-code results in the order of codes;
        ``same_as`` indices refer to ``codes`` (a repeat in another chunk is answered in full).
        Raises the first error answer (e.g. ``bad_request`` for an unknown action)."""
        if not 1 <= chunk <= MAX_CHECK_CODES:
            raise ValueError(f"chunk must be 1 .. {MAX_CHECK_CODES}")
        codes = list(codes)
        starts = range(0, len(codes), chunk)
        reqs = [("check", {"codes": codes[s:s + chunk], "action": action, "as_of": as_of}) for s in starts]
        out: list[dict] = []
        for s, r in zip(starts, self._run(reqs, depth)):
            for res in r.value()["results"]:
                if "same_as" in res:
                    res["same_as"] += s
                out.append(res)
        return out

    def search(self, prefix: str, limit: int | None = None) -> list[dict]:
        """``search {prefix, limit?}``: entities by name prefix, then code prefix (``limit``
        1..100); returns the list ``[{code, name, kind}]``."""
        return self.call("search", prefix=prefix, limit=limit)["results"]

    def aggregate(self, by: Sequence[str] | None = None, where: Mapping[str, Any] | None = None,
                  from_: str | None = None, to: str | None = None, metrics: Sequence[str] | None = None,
                  order: str | None = None, desc: bool | None = None, limit: int | None = None,
                  as_of: str | None = None, of: str | None = None) -> dict:
        """``aggregate``: ``{"columns": [...], "rows": [[...]], "from_rollup", "scanned"}``.
        ``from_`` is the protocol's ``from`` (a Python keyword). ``of="checks"`` counts the
        check log and its feedback instead of the records (its own dimensions and metrics:
        docs/protocol.md, "Aggregates over checks"). See `rows_as_dicts`."""
        return self.call("aggregate", by=list(by) if by is not None else None, where=where,
                         **{"from": from_}, to=to, metrics=list(metrics) if metrics is not None else None,
                         order=order, desc=desc, limit=limit, as_of=as_of, of=of)

    @staticmethod
    def rows_as_dicts(result: Mapping[str, Any]) -> list[dict]:
        """An aggregate result's rows as ``{column: value}`` dicts."""
        cols = result["columns"]
        return [dict(zip(cols, row)) for row in result["rows"]]

    def stats(self) -> dict:
        """``stats``: the server's counters (connections, ops latencies, audit queue, store)."""
        return self.call("stats")

    def ingest(self, records: Sequence[Mapping[str, Any]]) -> dict:
        """``ingest {records}``: up to 10000 records, all or nothing. Returns ``{"records",
        "inserted", "replaced", "unchanged", "entities", "kept_state", "transitions",
        "provisional"}``; a refused batch raises ``bad_request`` (or ``forbidden``) with
        ``details`` ``[{index, message}]``. Never retried (see the module docstring)."""
        return self.call("ingest", records=[dict(r) for r in records])

    def _lifecycle(self, op: str, authority: str, record_id: str, reason: str, **extra: Any) -> dict:
        return self.call(op, authority=authority, record_id=record_id, reason=reason, **extra)

    def repair(self, authority: str, record_id: str, reason: str, override: bool | None = None) -> dict:
        """``repair`` (信用修复): ``{"authority", "record_id", "status", "objection", "changed"}``.
        ``override`` (admin only) repairs before the minimum display period."""
        return self._lifecycle("repair", authority, record_id, reason, override=override)

    def revoke(self, authority: str, record_id: str, reason: str) -> dict:
        """``revoke``: the decision was withdrawn (final)."""
        return self._lifecycle("revoke", authority, record_id, reason)

    def reinstate(self, authority: str, record_id: str, reason: str) -> dict:
        """``reinstate``: a repaired record is active again."""
        return self._lifecycle("reinstate", authority, record_id, reason)

    def objection(self, authority: str, record_id: str, reason: str, withdraw: bool | None = None) -> dict:
        """``objection`` (异议): opens the objection flag; ``withdraw=True`` closes it."""
        return self._lifecycle("objection", authority, record_id, reason, withdraw=withdraw)


def connect(host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float | None = 10.0,
            token: str | None = None, **options: Any) -> Client:
    """Opens a `Client` (see its arguments)."""
    return Client(host, port, timeout, token, **options)
