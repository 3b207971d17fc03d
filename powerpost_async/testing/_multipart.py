"""Reading a ``multipart/form-data`` upload without keeping it: facts, not bytes.

The fake never holds an uploaded file. Both ways of serving turn the request body into
an `Upload` (the ``type`` field, the file's name, content type, size and first bytes)
while the body streams past, and hand that to the core:

- the socket server reads it with aiohttp's own multipart reader (`read_aiohttp`);
- the in-memory transport, and the core when handed raw bytes, feed byte chunks to
  `MultipartParser`, a small incremental parser, through `UploadReader`.

Either stops reading once the file has passed the size worth reading (the ``limit``
callback: the per-type limit, or what is left of the workspace's quota), and says so
(``complete=False``), so that a 500 MiB upload costs no memory and is refused early.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Callable, Iterator
from email.message import Message
from typing import TYPE_CHECKING

import attrs
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from multidict import CIMultiDict

from powerpost_async._limits import SNIFF_BYTES

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "HEAD_BYTES",
    "Limit",
    "MultipartError",
    "MultipartParser",
    "Upload",
    "UploadReader",
    "boundary_of",
    "read_aiohttp",
    "read_chunks",
]

#: How many leading bytes of the file are kept, for sniffing its format (as the SDK).
HEAD_BYTES = SNIFF_BYTES
#: Most bytes kept of the ``type`` field (and read of any other non-file field).
_MAX_FIELD = 1024
#: Most parts in one upload, and most header bytes of one part.
_MAX_PARTS = 16
_MAX_HEADER_BYTES = 16 * 1024
#: Most chunks read from one upload (a bound on every loop; ~16 GiB of 8 KiB chunks).
_MAX_CHUNKS = 2**21
_CHUNK = 64 * 1024

#: Told the ``type`` field (``None`` while unknown), answers how many file bytes are
#: worth reading: past that, reading stops and the upload is refused.
Limit = Callable[[str | None], int]


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


@attrs.frozen
class Upload:
    """What the fake needs to know of an upload, gathered while the body streamed past.

    Attributes:
        type: The ``type`` field, if the body had one (before the reading stopped).
        has_file: Whether a ``file`` field was found.
        file_name: The file part's file name, if any.
        content_type: The file part's ``Content-Type``, if any.
        size: Bytes of the file read; a lower bound when not `complete`.
        head: The file's first bytes (at most `HEAD_BYTES`).
        complete: ``False`` when reading stopped at the limit: the file is larger.
        problem: Why the body is not a valid form (then the rest means little).
    """

    type: str | None = None
    has_file: bool = False
    file_name: str | None = None
    content_type: str | None = None
    size: int = 0
    head: bytes = b""
    complete: bool = True
    problem: str | None = None


def boundary_of(content_type: str | None) -> str:
    """The boundary of a ``multipart/form-data`` Content-Type.

    Raises:
        MultipartError: Not ``multipart/form-data``, or no usable boundary.
    """
    if not content_type:
        raise MultipartError("Content-Type must be multipart/form-data")
    message = Message()
    message["Content-Type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        raise MultipartError("Content-Type must be multipart/form-data")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 200:
        raise MultipartError("multipart/form-data needs a boundary of 1 to 200 characters")
    return boundary


# -- the incremental parser ----------------------------------------------------------------


@attrs.frozen
class PartStart:
    """A part begins: its headers."""

    headers: CIMultiDict[str]


@attrs.frozen
class PartData:
    """Some bytes of the current part's body."""

    data: bytes


@attrs.frozen
class PartEnd:
    """The current part ended."""


@attrs.frozen
class Done:
    """The closing delimiter was read: the body is over (the epilogue is ignored)."""


Event = PartStart | PartData | PartEnd | Done

_HEADER_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$")


class MultipartParser:
    """An incremental ``multipart/form-data`` parser: bytes in, events out.

    ``feed()`` takes the body in chunks of any size and yields what they complete;
    part data comes out as soon as it cannot be the start of a delimiter, so the
    parser keeps at most a delimiter's length (and one part's headers) buffered.
    """

    def __init__(self, boundary: str) -> None:
        self._dash = b"--" + boundary.encode("latin-1")
        self._delimiter = b"\r\n" + self._dash
        self._buffer = b""
        # preamble -> (headers -> body -> after)* -> done
        self._state = "preamble"
        self._parts = 0

    @property
    def done(self) -> bool:
        """Whether the closing delimiter has been read."""
        return self._state == "done"

    def feed(self, chunk: bytes) -> Iterator[Event]:
        """Parse one more chunk; yields the events it completes.

        Raises:
            MultipartError: The body is malformed.
        """
        if self._state == "done":
            return  # the epilogue: ignored
        self._buffer += chunk
        # Each turn either consumes buffered bytes or stops: at most one turn per state
        # change per byte, and far fewer in practice.
        for _ in range(len(self._buffer) + 4):
            event = self._step()
            if event is None:
                return
            yield event
            if isinstance(event, Done):
                self._buffer = b""
                return

    def close(self) -> None:
        """The body ended: check that it was complete.

        Raises:
            MultipartError: The closing delimiter never came.
        """
        if self._state != "done":
            raise MultipartError("multipart body ended before its closing delimiter")

    def _step(self) -> Event | None:
        buffer = self._buffer
        if self._state == "preamble":
            # The first delimiter may open the body (no CRLF before it) or follow a preamble.
            if buffer.startswith(self._dash):
                self._buffer = buffer[len(self._dash) :]
            else:
                found = buffer.find(self._delimiter)
                if found < 0:
                    keep = len(self._delimiter) - 1
                    self._buffer = buffer[-keep:] if len(buffer) > keep else buffer
                    return None
                self._buffer = buffer[found + len(self._delimiter) :]
            self._state = "after"
            return self._step()
        if self._state == "after":
            return self._after_delimiter()
        if self._state == "headers":
            if buffer.startswith(b"\r\n"):  # a part without headers
                self._buffer = buffer[2:]
                self._state = "body"
                return PartStart(CIMultiDict())
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEADER_BYTES:
                    raise MultipartError("a part's headers are too long")
                return None
            headers = _parse_headers(buffer[:end])
            self._buffer = buffer[end + 4 :]
            self._state = "body"
            return PartStart(headers)
        # "body": data up to the next delimiter, which ends the part.
        found = buffer.find(self._delimiter)
        if found == 0:
            self._buffer = buffer[len(self._delimiter) :]
            self._state = "after"
            return PartEnd()
        if found > 0:
            self._buffer = buffer[found:]
            return PartData(buffer[:found])
        safe = len(buffer) - (len(self._delimiter) - 1)
        if safe <= 0:
            return None
        self._buffer = buffer[safe:]
        return PartData(buffer[:safe])

    def _after_delimiter(self) -> Event | None:
        """Past a delimiter: ``--`` closes the body, CRLF opens the next part."""
        rest = self._buffer
        if rest.startswith(b"--"):
            self._state = "done"
            return Done()
        # Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        stripped = rest.lstrip(b" \t")
        if len(stripped) < 2:
            if len(rest) > 256:
                raise MultipartError("a multipart delimiter must end with CRLF")
            return None
        if not stripped.startswith(b"\r\n"):
            raise MultipartError("a multipart delimiter must end with CRLF")
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise MultipartError(f"at most {_MAX_PARTS} form fields are accepted")
        self._buffer = stripped[2:]
        self._state = "headers"
        return self._step()


def _parse_headers(block: bytes) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in block.split(b"\r\n")[:64]:
        match = _HEADER_LINE.match(line)
        if match is None:
            raise MultipartError("a part has a malformed header line")
        headers.add(match[1].decode("ascii"), match[2].decode("latin-1"))
    return headers


# -- from parts to an Upload ---------------------------------------------------------------


class UploadReader:
    """Collects an `Upload` from the parts of a form, whatever reads them.

    Call `start()` for each part, `data()` with its bytes, `end()` after it; `data()`
    returns ``False`` once nothing more is worth reading (the file passed the limit).
    """

    def __init__(self, limit: Limit) -> None:
        self._limit = limit
        self._field: str | None = None  # "type", "file", or "" for one ignored
        self._type: bytearray | None = None
        self._has_file = False
        self._file_name: str | None = None
        self._content_type: str | None = None
        self._size = 0
        self._head = b""
        self._allowed = 0
        self._problem: str | None = None
        self.complete = True

    def start(self, headers: CIMultiDict[str] | dict[str, str]) -> None:
        """A part begins, with these headers."""
        disposition = headers.get("Content-Disposition")
        name: str | None = None
        file_name: str | None = None
        if disposition:
            kind, params = parse_content_disposition(disposition)
            if kind == "form-data":
                name = params.get("name")
                file_name = content_disposition_filename(params, "filename")
        if name is None:
            self._problem = self._problem or "every form field needs a Content-Disposition name"
            self._field = ""
        elif name == "file":
            if self._has_file:
                self._problem = self._problem or "only one file may be uploaded at a time"
                self._field = ""
                return
            self._has_file = True
            self._file_name = file_name
            self._content_type = headers.get("Content-Type")
            self._allowed = self._limit(self.type)
            self._field = "file"
        elif name == "type":
            self._type = bytearray()
            self._field = "type"
        else:
            self._field = ""

    def data(self, chunk: bytes) -> bool:
        """Bytes of the current part; ``False``: stop reading, the file is too large."""
        if self._field == "file":
            if len(self._head) < HEAD_BYTES:
                self._head += chunk[: HEAD_BYTES - len(self._head)]
            self._size += len(chunk)
            if self._size > self._allowed:
                self.complete = False
                return False
        elif self._field == "type" and self._type is not None:
            room = _MAX_FIELD - len(self._type)
            self._type += chunk[: max(0, room)]
        return True

    def end(self) -> None:
        """The current part ended."""
        self._field = None

    def fail(self, problem: str) -> None:
        """The body turned out malformed."""
        self._problem = self._problem or problem

    @property
    def type(self) -> str | None:
        """The ``type`` field read so far (``None`` before it, or without it)."""
        if self._type is None:
            return None
        return self._type.decode("utf-8", "replace")

    def result(self) -> Upload:
        """What was gathered."""
        return Upload(
            type=self.type,
            has_file=self._has_file,
            file_name=self._file_name,
            content_type=self._content_type,
            size=self._size,
            head=self._head,
            complete=self.complete,
            problem=self._problem,
        )


def _feed(parser: MultipartParser, reader: UploadReader, chunk: bytes) -> bool:
    """One chunk through the parser into the reader; ``False``: stop reading."""
    for event in parser.feed(chunk):
        if isinstance(event, PartStart):
            reader.start(event.headers)
        elif isinstance(event, PartData):
            if not reader.data(event.data):
                return False
        elif isinstance(event, PartEnd):
            reader.end()
    return not parser.done


def read_bytes(body: bytes, content_type: str | None, limit: Limit) -> Upload:
    """An `Upload` from a whole body, parsed chunk by chunk like a stream."""
    reader = UploadReader(limit)
    try:
        parser = MultipartParser(boundary_of(content_type))
        view = memoryview(body)
        for start in range(0, len(body), _CHUNK):
            if not _feed(parser, reader, bytes(view[start : start + _CHUNK])):
                break
        else:
            parser.close()
    except MultipartError as error:
        reader.fail(str(error))
    return reader.result()


async def read_chunks(
    chunks: AsyncIterable[bytes], content_type: str | None, limit: Limit
) -> Upload:
    """An `Upload` from a body that arrives as chunks, consumed as they come.

    Stops iterating (and closes the iterator, if it can be closed) once the file has
    passed the limit or the form has ended.
    """
    reader = UploadReader(limit)
    iterator = aiter(chunks)
    try:
        parser = MultipartParser(boundary_of(content_type))
        for _ in range(_MAX_CHUNKS):
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                parser.close()
                break
            if not _feed(parser, reader, bytes(chunk)):
                break
        else:
            reader.fail("the upload is too large to read")
    except MultipartError as error:
        reader.fail(str(error))
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
    return reader.result()


async def read_aiohttp(request: web.BaseRequest, limit: Limit) -> Upload:
    """An `Upload` from an aiohttp.web request, read with aiohttp's multipart reader.

    Only a few bytes of the file are kept; reading stops once it passed ``limit``.
    """
    reader = UploadReader(limit)
    try:
        boundary_of(request.headers.get("Content-Type"))
        multipart = await request.multipart()
        for _ in range(_MAX_PARTS + 1):
            part = await multipart.next()
            if part is None:
                break
            if not hasattr(part, "read_chunk"):  # a nested multipart: not a form field
                reader.fail("nested multipart bodies are not accepted")
                break
            reader.start(dict(part.headers))
            if not await _read_part(part, reader):
                return reader.result()
            reader.end()
        else:
            reader.fail(f"at most {_MAX_PARTS} form fields are accepted")
    except (MultipartError, ValueError, AssertionError) as error:
        # aiohttp raises ValueError (or asserts) on a malformed body.
        reader.fail(str(error) or "malformed multipart body")
    return reader.result()


async def _read_part(part: object, reader: UploadReader) -> bool:
    read_chunk = getattr(part, "read_chunk")  # noqa: B009 - a BodyPartReader
    for _ in range(_MAX_CHUNKS):
        chunk: bytes = await read_chunk(_CHUNK)
        if not chunk:
            return True
        if not reader.data(chunk):
            return False
    reader.fail("the upload is too large to read")
    return False
