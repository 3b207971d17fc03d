"""Uploads: ``pp.media.upload(source)``, a file streamed to the API as multipart/form-data.

Nothing of the file is held in memory beyond one chunk (256 KiB): a path is read chunk by
chunk in the loop's executor as the transport asks for it, and the multipart framing
around it is written by hand (two small byte strings). What can be checked before
sending is checked before sending, each problem named (``ValueError``/``TypeError``; a
missing file is also a ``FileNotFoundError``): the source, the format (read from the
first bytes, else the file name's extension; or the content type the caller states),
whether the API lists it and the type accepts it, the size against the type's limit. A
source whose size is not known in advance (an async iterator) is counted as it streams,
and the upload stops before more than the limit is sent; a file whose size changes
while it streams (it shrinks, or grows past the size it had) stops the upload before its
end.

An upload is not idempotent (each one makes a media), so it follows the rule of every
create: sent again only when it surely never reached the server, and only if its body
can be replayed (a path, bytes, a seekable file; an async iterator only while none of it
was read).
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal, Protocol

from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._exceptions import APIConnectionError
from ._http import QueryValue
from ._limits import (
    IMAGE_FORMATS,
    MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES,
    MEDIA_EXTENSIONS,
    MEDIA_FORMATS,
    MEDIA_TYPE_ALIASES,
    MEDIA_TYPES,
    MEDIA_UPLOAD_PATH,
    SNIFF_BYTES,
    VIDEO_FORMATS,
    accepted_formats,
    describe_format,
    identify_format,
)
from ._models import Media
from ._response import with_response
from ._transport import StreamBody

if TYPE_CHECKING:
    from ._client import PowerPost
    from ._requester import Requester

__all__ = [
    "CHUNK_SIZE",
    "MediaResource",
    "MediaWithResponse",
    "Readable",
    "UploadContent",
    "UploadFileNotFoundError",
    "UploadProgressCallback",
    "UploadSource",
]

#: Bytes read from the source at a time (and the most held in memory at once).
CHUNK_SIZE: Final = 256 * 1024
#: Bytes read to tell the format (an ftyp box's compatible brands, a WebM's DocType).
_SNIFF_BYTES: Final = SNIFF_BYTES
_MIB: Final = 1024 * 1024

MediaType = Literal["image", "video"]

_ACCEPTED: Final[Mapping[str, tuple[str, ...]]] = {"image": IMAGE_FORMATS, "video": VIDEO_FORMATS}
_LIMITS: Final[Mapping[str, int]] = {"image": MAX_IMAGE_BYTES, "video": MAX_VIDEO_BYTES}


class Readable(Protocol):
    """A binary file object: ``read(size)`` returns bytes (``b""`` at the end)."""

    def read(self, size: int = ..., /) -> bytes:
        """Up to ``size`` bytes."""
        ...


#: A file's content: a path, the bytes themselves, a binary file object, or an async
#: iterable of byte chunks.
UploadContent = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | Readable | AsyncIterable[bytes]
)
#: What `MediaResource.upload` takes: a file's content, or (as openai-python takes files)
#: ``(file_name, content)`` or ``(file_name, content, content_type)``, where ``None``
#: stands for "not given".
UploadSource = (
    UploadContent | tuple[str | None, UploadContent] | tuple[str | None, UploadContent, str | None]
)


class UploadFileNotFoundError(FileNotFoundError, ValueError):
    """The path given to upload names no file (nothing was sent).

    A `FileNotFoundError` (``errno``, ``strerror``, ``filename`` set as ``open`` sets
    them), and a `ValueError` like every other source refused before sending.
    """

    def __str__(self) -> str:
        return f"cannot read {os.fsdecode(self.filename)}: {self.strerror}"


class UploadProgressCallback(Protocol):
    """``on_progress(sent, total)``: file bytes handed to the transport so far, of
    ``total`` (``None`` when the size is not known in advance)."""

    def __call__(self, sent: int, total: int | None, /) -> object:
        """Called as the upload goes, at most once per 256 KiB, and at its end."""
        ...


class MediaResource:
    """Images and videos of the workspace: ``pp.media``."""

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        self._requester: Requester = client._requester

    @property
    def with_response(self) -> MediaWithResponse:
        """The same calls, answering [`APIResponse`][powerpost_async.APIResponse]s:
        ``await pp.media.with_response.upload(path)``."""
        return MediaWithResponse(self)

    async def upload(
        self,
        source: UploadSource,
        *,
        type: MediaType | None = None,
        file_name: str | None = None,
        content_type: str | None = None,
        size: int | None = None,
        on_progress: UploadProgressCallback | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> Media:
        """Upload an image (JPEG, PNG, WebP; at most 10 MiB) or a video (MP4, MOV, WebM;
        at most 500 MiB) and return the new media: pass its ``media_id`` on.

        The file is streamed, never read whole into memory. Before anything is sent, the
        format is read from its content (else taken from the file name's extension):
        a format the API does not list (HEIC, AVIF, GIF, M4A...) is refused, and the
        format is checked against ``type`` and the type's size limit. When you know
        better than the content, state the format with ``content_type``.

        Like a create, an upload is sent again only when it surely never reached the
        server (connection refused, 429), and only if its body can be replayed: a path,
        bytes or a seekable file can; an async iterator cannot once any of it was read.
        A large video takes time: give it a ``timeout`` that covers the transfer (the
        client's default is 60 s for the whole call).

        Args:
            source: A path (``str`` or ``os.PathLike``); the bytes (``bytes``,
                ``bytearray`` or ``memoryview``, not copied: leave them unchanged until
                this returns); a binary file object (``open(path, "rb")``; read from its
                current position; one that cannot seek is read once, like an async
                iterator); or an async iterable of ``bytes`` chunks (read once, and closed
                with ``aclose()`` if it has one when the upload ends). Or a tuple
                ``(file_name, content)`` or ``(file_name, content, content_type)`` of
                one of those, as openai-python takes files (``None`` for "not given").
            type: ``"image"`` or ``"video"``; by default, what the format is.
            file_name: The name the media gets; by default the path's (or the file
                object's) base name, else ``upload`` and the format's extension.
            content_type: The format's MIME type (``"image/jpeg"``, ``"video/mp4"``...),
                when you know better than the content: the format is then not read from
                the file, but it must still be one the API lists, accepted by ``type``,
                and the file within the type's limit.
            size: For an async iterator (or a file that cannot seek): its size in bytes,
                if known. It is then checked before sending and sent as
                ``Content-Length`` (else the body is sent chunked), and the upload fails
                if the source yields another number of bytes. Measured for other
                sources (if given, it must match).
            on_progress: Called with ``(sent, total)`` as file bytes are handed to the
                transport: at most once per 256 KiB, and once at the end. ``total`` is
                ``None`` when the size is not known in advance. Counting starts again
                at 0 if the upload is retried.
            timeout: Per-call override of the client's timeout (the whole transfer).
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.

        Returns:
            The uploaded media.

        Raises:
            TypeError: ``source`` is none of the kinds above, or yields something other
                than bytes (nothing sent).
            FileNotFoundError: The path names no file (nothing sent). The error is also
                a ``ValueError``.
            ValueError: The file cannot be read, is empty, is in a format the API does
                not list, is not accepted as ``type``, or is over the type's limit
                (nothing sent); or an async iterator passed the limit (or ``size``), or a
                file shrank or grew, while streaming (the upload is cut off before its
                end).
            FileTooLargeError: The API refused the file's size (413 ``FILE_TOO_LARGE``).
            StorageQuotaExceededError: The workspace's storage is full.
            BadRequestError: The API refused the upload (``VALIDATION_ERROR``).
        """
        upload = await _prepare(source, type, file_name, content_type, size, on_progress)
        try:
            return await self._requester.post(
                MEDIA_UPLOAD_PATH,
                upload.body,
                Media,
                timeout=timeout,
                max_retries=max_retries,
                extra_headers=extra_headers,
                extra_query=extra_query,
                content_type=upload.content_type,
            )
        except APIConnectionError:
            failure = upload.failure
            if failure is None:
                raise
            # The source (or on_progress) failed while the transport read the body, and
            # the transport gave up on the request for it: say what really went wrong.
            raise failure from None
        finally:
            await upload.aclose()


class MediaWithResponse:
    """``pp.media.with_response``: `upload`, answering an
    [`APIResponse`][powerpost_async.APIResponse] around the [`Media`][powerpost_async.Media]
    (same arguments)."""

    def __init__(self, media: MediaResource) -> None:
        self.upload = with_response(media.upload, media._requester.clock)


# -- sources: where the file's bytes come from ---------------------------------------------

#: ``await read()`` gives the next chunk of the file, ``b""`` at its end.
_Read = Callable[[], Awaitable[bytes]]


class _Source:
    """A file to upload: its size if known, and how to read it from its start."""

    size: int | None = None
    replayable: bool = True
    name: str | None = None
    head: bytes = b""
    #: How messages name the file (set once it is known).
    what: str = "the file"

    def reader(self) -> _Read:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the upload took over (an async iterator it was handed)."""


def _read_at(path: str | bytes, offset: int, size: int) -> tuple[bytes, int]:
    """``size`` bytes of the file from ``offset`` (fewer at its end), and its size now."""
    # Opened for each chunk: no file handle outlives a chunk, whoever abandons the body.
    with open(path, "rb") as file:
        file.seek(offset)
        return file.read(size), os.fstat(file.fileno()).st_size


def _shrank(what: str, size: int, now: int) -> ValueError:
    return ValueError(
        f"{what} shrank while it was being uploaded: it had {size} bytes when the upload "
        f"began, {now} now; the upload was stopped before its end"
    )


def _grew(what: str, size: int, now: int) -> ValueError:
    return ValueError(
        f"{what} grew while it was being uploaded: it had {size} bytes when the upload "
        f"began, {now} now; the upload was stopped before its end (upload it again once "
        "it is complete)"
    )


class _PathSource(_Source):
    def __init__(self, path: str | bytes, size: int, head: bytes) -> None:
        self.path = path
        self.size = self.total = size
        self.head = head
        self.name = os.path.basename(os.fsdecode(path))
        self.what = os.fsdecode(path)

    def reader(self) -> _Read:
        loop = asyncio.get_running_loop()
        path, size, what = self.path, self.total, self.what
        offset = 0

        async def read() -> bytes:
            nonlocal offset
            if offset >= size:
                return b""
            want = min(CHUNK_SIZE, size - offset)
            # The size was taken before sending and went out as Content-Length: with the
            # last chunk, one byte more is asked for, so that a file still being written
            # fails here, before the request ends, rather than be cut to its first size.
            last = offset + want == size
            ask = want + 1 if last else want
            chunk, now = await loop.run_in_executor(None, _read_at, path, offset, ask)
            if len(chunk) < want:
                raise _shrank(what, size, now)
            if len(chunk) > want:
                raise _grew(what, size, max(now, size + 1))
            offset += want
            return chunk

        return read


class _BytesSource(_Source):
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.size = data.nbytes
        self.head = bytes(data[:_SNIFF_BYTES])

    def reader(self) -> _Read:
        data = self.data
        offset = 0

        async def read() -> bytes:
            nonlocal offset
            chunk = bytes(data[offset : offset + CHUNK_SIZE])
            offset += len(chunk)
            return chunk

        return read


class _FileSource(_Source):
    """A seekable binary file object: replayed from where it stood when handed over."""

    def __init__(self, file: Readable, start: int, size: int, head: bytes) -> None:
        self.file = file
        self.start = start
        self.size = self.total = size
        self.head = head
        self.name = _file_name_of(file)

    def reader(self) -> _Read:
        file, start, size = self.file, self.start, self.total
        file.seek(start)  # type: ignore[attr-defined]  # checked seekable
        offset = 0

        async def size_now() -> int:
            _, end = await asyncio.get_running_loop().run_in_executor(None, _position_and_end, file)
            return end - start

        async def read() -> bytes:
            nonlocal offset
            if offset >= size:
                return b""
            want = min(CHUNK_SIZE, size - offset)
            chunk = await _read_file(file, want)
            if not chunk:
                raise _shrank(self.what, size, await size_now())
            offset += len(chunk)
            # As for a path: at the size announced, a file still being written fails
            # before the request ends.
            if offset >= size and await _read_file(file, 1):
                raise _grew(self.what, size, await size_now())
            return chunk

        return read


class _OneShotSource(_Source):
    """An async iterator (or a file that cannot seek): its first chunks were read to
    sniff the format, and are replayed before the rest is read, once."""

    replayable = False

    def __init__(
        self,
        chunks: list[bytes],
        more: _Read,
        size: int | None,
        close: Callable[[], Awaitable[object]] | None,
        name: str | None,
    ) -> None:
        self.chunks = chunks
        self.more = more
        self.size = size
        self.close = close
        self.name = name
        self.head = b"".join(chunks)[:_SNIFF_BYTES]
        self.reading = False  # a task is inside the source, waiting for its next chunk
        self.close_after_read = False

    def reader(self) -> _Read:
        async def read() -> bytes:
            if self.chunks:
                return self.chunks.pop(0)
            self.reading = True
            try:
                return await self.more()
            finally:
                self.reading = False
                if self.close_after_read:
                    await self.aclose()

        return read

    async def aclose(self) -> None:
        if self.reading:
            # Our transports return only once their body writer has left the source, but
            # another one may leave it running: closing an async generator that runs
            # raises RuntimeError (in place of the upload's real error). The read that
            # is in it closes it as soon as it returns.
            self.close_after_read = True
            return
        close, self.close = self.close, None
        if close is not None:
            await close()


async def _read_file(file: Readable, size: int) -> bytes:
    if isinstance(file, io.BytesIO):
        chunk: object = file.read(size)  # in memory: no need for a thread
    else:
        chunk = await asyncio.get_running_loop().run_in_executor(None, file.read, size)
    if isinstance(chunk, str):
        raise TypeError("the file object returned str: open the file in binary mode ('rb')")
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"the file object's read() returned {type(chunk).__name__}, not bytes")
    return bytes(chunk)


def _file_name_of(file: object) -> str | None:
    name = getattr(file, "name", None)
    if isinstance(name, (str, bytes)) and name:
        return os.path.basename(os.fsdecode(name)) or None
    return None


def _iterator_reader(iterator: AsyncIterator[object]) -> _Read:
    async def read() -> bytes:
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                return b""
            if isinstance(chunk, (bytes, bytearray, memoryview)):
                if chunk:
                    return bytes(chunk)
                continue  # an empty chunk is not the end
            raise TypeError(
                f"the async iterator yielded {type(chunk).__name__}, not bytes "
                "(upload takes chunks of bytes)"
            )

    return read


async def _one_shot(
    more: _Read, close: Callable[[], Awaitable[object]] | None, size: int | None, name: str | None
) -> _OneShotSource:
    """Read the first chunks of a one-shot source, enough to sniff its format."""
    chunks: list[bytes] = []
    held = 0
    read = False
    try:
        while held < _SNIFF_BYTES:
            chunk = await more()
            if not chunk:
                break
            chunks.append(chunk)
            held += len(chunk)
        read = True
    finally:
        if not read and close is not None:  # failed or cancelled: the source is not ours
            await close()
    return _OneShotSource(chunks, more, size, close, name)


async def _open_source(source: object, size: int | None) -> _Source:
    """The source as something to read, after checking what it is (nothing sent yet)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        loop = asyncio.get_running_loop()
        try:
            found, head = await loop.run_in_executor(None, _stat_and_head, path)
        except FileNotFoundError as exc:
            why = exc.strerror or os.strerror(errno.ENOENT)
            raise UploadFileNotFoundError(errno.ENOENT, why, path) from exc
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise ValueError(f"cannot read {os.fsdecode(path)!s}: {why}") from exc
        _check_given_size(size, found)
        return _PathSource(path, found, head)
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        if not view.c_contiguous:
            raise ValueError("a memoryview to upload must be C-contiguous")
        view = view.cast("B")
        _check_given_size(size, view.nbytes)
        return _BytesSource(view)
    if isinstance(source, io.TextIOBase):
        raise TypeError("source is a text file: open the file in binary mode ('rb')")
    if isinstance(source, AsyncIterable):
        iterator: AsyncIterator[object] = source.__aiter__()
        close = getattr(iterator, "aclose", None)
        return await _one_shot(_iterator_reader(iterator), close, size, None)
    read = getattr(source, "read", None)
    if callable(read):
        file: Readable = source  # type: ignore[assignment]
        seekable = getattr(source, "seekable", None)
        if callable(seekable) and seekable():
            start, end = await asyncio.get_running_loop().run_in_executor(
                None, _position_and_end, source
            )
            head = await _read_file(file, _SNIFF_BYTES)
            _check_given_size(size, end - start)
            return _FileSource(file, start, end - start, head)

        async def more() -> bytes:
            return await _read_file(file, CHUNK_SIZE)

        return await _one_shot(more, None, size, _file_name_of(source))
    raise TypeError(
        "source must be a path (str or os.PathLike), bytes, bytearray, memoryview, a binary "
        f"file object or an async iterable of bytes, got {type(source).__name__}"
    )


def _stat_and_head(path: str | bytes) -> tuple[int, bytes]:
    with open(path, "rb") as file:  # IsADirectoryError, PermissionError, ...
        size = os.fstat(file.fileno()).st_size
        return size, file.read(_SNIFF_BYTES)


def _position_and_end(file: object) -> tuple[int, int]:
    start: int = file.tell()  # type: ignore[attr-defined]
    end: int = file.seek(0, io.SEEK_END)  # type: ignore[attr-defined]
    file.seek(start)  # type: ignore[attr-defined]
    return start, end


def _check_given_size(given: int | None, measured: int) -> None:
    if given is not None and given != measured:
        raise ValueError(f"size={given} was given but the source holds {measured} bytes")


# -- checks (pure; they run before anything is sent) -------------------------------------------


def _check_size_argument(size: object) -> int | None:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an integer, got {type(size).__name__}")
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    return size


def check_media_type(value: object) -> str | None:
    """``type`` as the API spells it, or ``ValueError`` naming the choices."""
    if value is None or value in MEDIA_TYPES:
        return value
    raise ValueError(f"type must be one of {', '.join(map(repr, MEDIA_TYPES))}, got {value!r}")


def check_file_name(name: object) -> str | None:
    """A file name that can go into a part header, or ``ValueError``."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"file_name must be a string, got {type(name).__name__}")
    if not name.strip():
        raise ValueError("file_name must not be empty or blank")
    if not name.isprintable():
        raise ValueError(f"file_name must not contain control characters, got {name!r}")
    return name


def check_content_type(value: object) -> str | None:
    """A stated ``content_type`` as the accepted MIME type it names, or ``ValueError``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"content_type must be a string, got {type(value).__name__}")
    mime = value.partition(";")[0].strip().lower()
    mime = MEDIA_TYPE_ALIASES.get(mime, mime)
    if mime not in MEDIA_FORMATS:
        raise ValueError(
            f"content_type={value!r} is not a format the API lists: it accepts "
            f"{', '.join(MEDIA_FORMATS)} ({accepted_formats()})"
        )
    return mime


def _unpack(
    source: object, file_name: object, content_type: object
) -> tuple[object, object, object]:
    """A ``(file_name, content[, content_type])`` tuple as its three parts, merged with
    the keyword arguments (each may be given once, or twice alike)."""
    if not isinstance(source, tuple):
        return source, file_name, content_type
    if len(source) not in (2, 3):
        raise TypeError(
            "a tuple source is (file_name, content) or (file_name, content, content_type), "
            f"got {len(source)} items"
        )
    name, content, *rest = source
    stated = rest[0] if rest else None
    if isinstance(content, tuple):
        raise TypeError("the content of a tuple source cannot be a tuple")
    for label, inside, keyword in (
        ("file_name", name, file_name),
        ("content_type", stated, content_type),
    ):
        if inside is not None and keyword is not None and inside != keyword:
            raise ValueError(
                f"{label} is given twice, as {inside!r} in the tuple and {keyword!r}: give it once"
            )
    return content, file_name if name is None else name, content_type if stated is None else stated


def media_format(head: bytes, name: str | None, what: str) -> str:
    """The accepted format of a file from its first bytes, else from its name's extension.

    Raises:
        ValueError: The first bytes tell a format the API does not list, or neither they
            nor the name tell an accepted format.
    """
    mime = identify_format(head)
    if mime is not None and mime not in MEDIA_FORMATS:
        # Named as what it is, whatever its name says: an iPhone's IMG_0001.HEIC, or a
        # GIF renamed .jpg, is not sent as something the API takes.
        raise ValueError(
            f"{what} is not an accepted format ({describe_format(mime)}): the API accepts "
            f"{accepted_formats()}. Convert it first, or pass content_type= if you know "
            "better"
        )
    if mime is None and name:
        mime = MEDIA_EXTENSIONS.get(os.path.splitext(name)[1].lower())
    if mime is None:
        if not head:
            raise ValueError(f"{what} is empty: there is nothing to upload")
        accepted = ", ".join(label for _, label, _ in MEDIA_FORMATS.values())
        raise ValueError(
            f"{what} is not an accepted format ({accepted}): its first bytes are none of "
            "theirs, and its name has none of their extensions (pass content_type= if you "
            "know which it is)"
        )
    return mime


def media_type_for(mime: str, requested: str | None, what: str) -> str:
    """The upload's ``type``: the one asked for, if it accepts the format, else the
    format's own."""
    own = MEDIA_FORMATS[mime][0]
    if requested is None:
        return own
    if mime not in _ACCEPTED[requested]:
        labels = ", ".join(MEDIA_FORMATS[m][1] for m in _ACCEPTED[requested])
        raise ValueError(
            f"{what} is {describe_format(mime)}: it cannot be uploaded as "
            f"type={requested!r} ({requested}s may be {labels})"
        )
    return requested


def check_upload_size(size: int, media_type: str, what: str) -> None:
    """``ValueError`` if ``size`` is over the type's limit, or 0."""
    limit = _LIMITS[media_type]
    if size > limit:
        raise ValueError(
            f"{what} is {size / _MIB:.1f} MiB ({size} bytes): {media_type}s may be at most "
            f"{limit // _MIB} MiB ({limit} bytes)"
        )
    if size == 0:
        raise ValueError(f"{what} is empty: there is nothing to upload")


# -- the multipart body --------------------------------------------------------------------------


def _quoted(name: str) -> str:
    # As browsers do (HTML's multipart/form-data encoding): the three characters that
    # would end the quoted string or the header are percent-encoded.
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_framing(
    boundary: str, media_type: str, file_name: str, mime: str
) -> tuple[bytes, bytes]:
    """The bytes before the file (the ``type`` part, the ``file`` part's headers) and
    after it (the closing delimiter)."""
    before = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="type"\r\n'
        "\r\n"
        f"{media_type}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{_quoted(file_name)}"\r\n'
        f"Content-Type: {mime}\r\n"
        "\r\n"
    ).encode()
    after = f"\r\n--{boundary}--\r\n".encode()
    return before, after


class _Upload:
    """One upload's body: the multipart framing around the source's chunks, counted."""

    def __init__(
        self,
        source: _Source,
        *,
        media_type: str,
        mime: str,
        file_name: str,
        on_progress: UploadProgressCallback | None,
        what: str,
    ) -> None:
        self.source = source
        boundary = f"powerpost-{secrets.token_hex(16)}"
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.before, self.after = multipart_framing(boundary, media_type, file_name, mime)
        self.limit = _LIMITS[media_type]
        self.media_type = media_type
        self.on_progress = on_progress
        self.what = what
        #: What the source (or on_progress) raised while the body was being read.
        self.failure: Exception | None = None
        size = source.size
        length = None if size is None else len(self.before) + size + len(self.after)
        self.body = StreamBody(self._chunks, length=length, replayable=source.replayable)

    def _chunks(self) -> AsyncIterator[bytes]:
        return _Parts(self, self.source.reader())

    async def aclose(self) -> None:
        await self.source.aclose()


class _Parts:
    """One pass over the body: the framing, the file's chunks, the closing delimiter.

    A plain iterator, not an async generator: a transport that gives up halfway leaves
    nothing behind to finalise (a path's file is opened afresh for each chunk).
    """

    def __init__(self, upload: _Upload, read: _Read) -> None:
        self._upload = upload
        self._read = read
        self._stage = 0  # 0: framing before, 1: the file, 2: framing after, 3: done
        self._sent = 0
        self._reported = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        upload = self._upload
        if self._stage == 0:
            self._stage = 1
            return upload.before
        if self._stage == 1:
            try:
                chunk = await self._file_chunk(upload)
            except Exception as exc:
                if upload.failure is None:
                    upload.failure = exc
                raise
            if chunk:
                return chunk
            self._stage = 2
            return upload.after
        raise StopAsyncIteration

    async def _file_chunk(self, upload: _Upload) -> bytes:
        size = upload.source.size
        chunk = await self._read()
        sent = self._sent + len(chunk)
        if sent > upload.limit:
            raise ValueError(
                f"{upload.what} passed {upload.limit // _MIB} MiB ({upload.limit} bytes), "
                f"the limit for {upload.media_type}s: the upload was stopped before sending "
                "more"
            )
        if size is not None and sent > size:
            raise ValueError(f"{upload.what} yielded more than the {size} bytes given as size")
        if not chunk:
            if size is not None and self._sent != size:
                raise ValueError(
                    f"{upload.what} ended after {self._sent} bytes, not the {size} given as size"
                )
            self._progress(final=True)
            return b""
        self._sent = sent
        self._progress(final=False)
        return chunk

    def _progress(self, *, final: bool) -> None:
        callback = self._upload.on_progress
        if callback is None:
            return
        if final or self._sent - self._reported >= CHUNK_SIZE:
            if final and self._reported == self._sent and self._sent:
                return  # the last chunk's report was already the total
            self._reported = self._sent
            callback(self._sent, self._upload.source.size)


async def _prepare(
    source: object,
    requested: object,
    file_name: object,
    content_type: object,
    size: object,
    on_progress: UploadProgressCallback | None,
) -> _Upload:
    """Check everything that can be checked before sending, and build the body."""
    source, file_name, content_type = _unpack(source, file_name, content_type)
    media_type = check_media_type(requested)
    name = check_file_name(file_name)
    stated = check_content_type(content_type)
    given = _check_size_argument(size)
    if on_progress is not None and not callable(on_progress):
        raise TypeError(f"on_progress must be callable, got {type(on_progress).__name__}")
    opened = await _open_source(source, given)
    built = False
    try:
        what = opened.what = _what(source, opened, name)
        if not opened.head:
            raise ValueError(f"{what} is empty: there is nothing to upload")
        mime = stated or media_format(opened.head, name or opened.name, what)
        media_type = media_type_for(mime, media_type, what)
        if opened.size is not None:
            check_upload_size(opened.size, media_type, what)
        upload = _Upload(
            opened,
            media_type=media_type,
            mime=mime,
            file_name=name or opened.name or f"upload{MEDIA_FORMATS[mime][2]}",
            on_progress=on_progress,
            what=what,
        )
        built = True
        return upload
    finally:
        if not built:  # refused (or cancelled): the source was handed to us to close
            await opened.aclose()


def _what(source: object, opened: _Source, name: str | None) -> str:
    """How messages name the file."""
    if isinstance(opened, _PathSource):
        return os.fsdecode(opened.path)
    if name or opened.name:
        return repr(name or opened.name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the bytes"
    if isinstance(source, AsyncIterable):
        return "the async iterator"
    return "the file"
