"""python-telegram-bot's HTTP requests carried by aiohttp instead of its default httpx.

Sampled while replying, httpx and httpcore (pure Python, h11 parsing each response, anyio
around every read and write) were about half of the event loop's busy time; aiohttp, already
here for the webhook and the console, parses HTTP in C and keeps the same connections alive.
python-telegram-bot keeps everything above the wire: building each request's parameters,
reading Telegram's answer and raising its errors (`RetryAfter`, `Forbidden`...). This class
only moves bytes, in the same form the default one does (a form body with JSON-encoded values,
multipart when files go up).
"""

from __future__ import annotations

import urllib.request

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

Timeout = float | None
# More than any Bot API answer (a getUpdates of 100 updates is well under a megabyte) or any file
# the channel downloads (20 MB, `files.MAX_DOWNLOAD`): a server that sends more is cut off.
MAX_ANSWER = 32 * 1024 * 1024
CHUNK = 64 * 1024


class AiohttpRequest(BaseRequest):
    """One keep-alive connection pool of at most `pool_size` connections.

    Each request is bounded in all its phases: waiting for a free connection (`pool_timeout`),
    opening one (`connect_timeout`), each wait for the answer's bytes (`read_timeout`), and the
    whole exchange by the sum of the four (aiohttp has no per-write limit; the sum keeps an
    upload to a server that stopped reading from hanging)."""

    def __init__(
        self,
        pool_size: int = 1,
        *,
        read_timeout: Timeout = 5.0,
        write_timeout: Timeout = 5.0,
        connect_timeout: Timeout = 5.0,
        pool_timeout: Timeout = 1.0,
        media_write_timeout: Timeout = 20.0,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        self._pool_size = pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._max_answer = max_answer
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            # Proxies from HTTP(S)_PROXY, as the default client honoured them; looked up only
            # when one is set (aiohttp reads the environment in a thread at every request).
            proxied = bool(urllib.request.getproxies())
            self._session = aiohttp.ClientSession(connector=connector, trust_env=proxied)

    async def shutdown(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest used before initialize() or after shutdown()")
        uploads = bool(request_data and request_data.contains_files)
        limits = self._limits(
            read=read_timeout,
            write=write_timeout,
            connect=connect_timeout,
            pool=pool_timeout,
            uploads=uploads,
        )
        body = _body(request_data, uploads)
        try:
            async with session.request(
                method, url, data=body, headers={"User-Agent": self.USER_AGENT}, timeout=limits
            ) as response:
                return response.status, await _read_within(response, self._max_answer)
        except TimeoutError as error:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut from error
        except (aiohttp.ClientError, OSError) as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _limits(
        self, *, read: object, write: object, connect: object, pool: object, uploads: bool
    ) -> aiohttp.ClientTimeout:
        """The caller's timeouts where given (`None` meaning none), else this instance's."""
        default_write = self._media_write_timeout if uploads else self._write_timeout
        read = _given(read, self._read_timeout)
        write = _given(write, default_write)
        connect = _given(connect, self._connect_timeout)
        pool = _given(pool, self._pool_timeout)
        phases = (read, write, connect, pool)
        whole = None if None in phases else sum(p for p in phases if p is not None)
        to_connect = None if pool is None or connect is None else pool + connect
        return aiohttp.ClientTimeout(
            total=whole, connect=to_connect, sock_connect=connect, sock_read=read
        )


def _given(value: object, default: Timeout) -> Timeout:
    """A timeout the caller gave (seconds, or `None` for no limit), else `default`: what
    python-telegram-bot passes when the caller gave none is a marker, neither."""
    if value is None:
        return None
    return float(value) if isinstance(value, int | float) else default


async def _read_within(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The answer's body, refused (as a network error: nothing usable came) past `limit` bytes,
    before it is read when its stated length says so."""
    stated = response.content_length
    if stated is not None and stated > limit:
        raise NetworkError(f"the answer is {stated} bytes, more than {limit}")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            raise NetworkError(f"the answer is more than {limit} bytes")
    return bytes(body)


def _body(request_data: RequestData | None, uploads: bool) -> aiohttp.FormData | None:
    """The request's parameters as a form (values JSON-encoded, as the Bot API reads them);
    multipart with the files when there are files."""
    if request_data is None:
        return None
    form = aiohttp.FormData(request_data.json_parameters)
    if uploads:
        for name, (filename, content, mimetype) in request_data.multipart_data.items():
            form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
