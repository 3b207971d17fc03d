"""``pp.media.upload``: formats told by content (ISO-BMFF brands, WebM's DocType), the
``content_type`` override and ``(file_name, content, content_type)`` tuples, files that
grow or shrink while they stream, and a missing file (issue 21, items 3, 4 and 5).

Every file here is synthetic: an ``ftyp`` box is its size, ``ftyp``, a major brand, a
minor version and compatible brands, and that is all the format is read from.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from powerpost_async import BadRequestError, MockTransport, PowerPost, Request, Response
from powerpost_async._limits import (
    MEDIA_FORMATS,
    UNLISTED_FORMATS,
    describe_format,
    identify_format,
    sniff_format,
)
from powerpost_async._media import CHUNK_SIZE
from powerpost_async._transport import StreamBody
from powerpost_async.testing import FakePowerPost

from .conftest import API_KEY, WORKSPACE, RecordingSleep
from .test_media_upload import JPEG, PNG, media_ok, parse_multipart

ACCEPTED = r"the API accepts JPEG, PNG, WebP images and MP4, MOV, WebM videos"


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """An ``ftyp`` box: size, type, major brand, minor version 0, compatible brands."""
    size = 16 + 4 * len(compatible)
    return size.to_bytes(4, "big") + b"ftyp" + major + bytes(4) + b"".join(compatible)


def iso_file(major: bytes, *compatible: bytes) -> bytes:
    """A small ISO base media file: its ``ftyp`` box, then a ``free`` box and filler."""
    return ftyp(major, *compatible) + b"\x00\x00\x00\x08free" + b"\x07" * 500


def ebml(doc_type: bytes) -> bytes:
    """An EBML (Matroska/WebM) header naming ``doc_type``, then filler."""
    elements = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doc_type)]) + doc_type
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(elements)]) + elements + b"\x05" * 500


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def sparse_mp4(tmp_path: Path, size: int, name: str = "clip.mp4") -> Path:
    """An MP4 header then zeros to ``size`` bytes, taking no disk space."""
    path = tmp_path / name
    with path.open("wb") as file:
        file.write(ftyp(b"isom", b"mp41"))
        file.truncate(size)
    return path


@pytest.fixture
def mock(make_client: Callable[..., PowerPost]) -> tuple[PowerPost, list[Request]]:
    """A client on a MockTransport answering every upload with the documented example."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return media_ok(request)

    return make_client(handler), seen


# -- item 3: formats by content ------------------------------------------------------------

UNLISTED = [
    pytest.param("IMG_0001.HEIC", iso_file(b"heic", b"mif1", b"heic"), "a HEIC image", id="heic"),
    pytest.param("burst.heic", iso_file(b"heix", b"mif1", b"heix"), "a HEIC image", id="heix"),
    pytest.param(
        "live.heics", iso_file(b"msf1", b"msf1", b"iso8", b"hevc"), "a HEIC image", id="hevc-seq"
    ),
    pytest.param("plain.heif", iso_file(b"mif1", b"mif1", b"miaf"), "a HEIF image", id="heif"),
    pytest.param("seq.heif", iso_file(b"msf1", b"msf1"), "a HEIF image", id="heif-sequence"),
    pytest.param(
        "photo.avif", iso_file(b"avif", b"mif1", b"miaf", b"MA1B"), "an AVIF image", id="avif"
    ),
    pytest.param(
        "generic.avif", iso_file(b"mif1", b"avif", b"mif1", b"miaf"), "an AVIF image", id="avif-2"
    ),
    pytest.param("anim.avif", iso_file(b"avis", b"avis", b"msf1"), "an AVIF image", id="avis"),
    pytest.param(
        "song.m4a", iso_file(b"M4A ", b"M4A ", b"mp42", b"isom"), "an M4A audio file", id="m4a"
    ),
    pytest.param("book.m4b", iso_file(b"M4B ", b"isom"), "an M4A audio file", id="m4b"),
    pytest.param(
        "generic.m4a", iso_file(b"isom", b"iso2", b"M4A "), "an M4A audio file", id="m4a-2"
    ),
    pytest.param(
        "IMG_0002.CR3", iso_file(b"crx ", b"crx ", b"isom"), "a Canon CR3 image", id="cr3"
    ),
    pytest.param("anim.gif", b"GIF89a" + b"\x00" * 100, "a GIF image", id="gif"),
    pytest.param("film.mkv", ebml(b"matroska"), "a Matroska video", id="matroska"),
]


@pytest.mark.parametrize(("name", "data", "found"), UNLISTED)
@pytest.mark.parametrize("media_type", [None, "image", "video"])
async def test_unlisted_formats_are_refused_by_content_before_sending(
    tmp_path: Path, name: str, data: bytes, found: str, media_type: str | None
) -> None:
    """Catches: any file with ``ftyp`` at byte 4 was taken for an MP4, so an iPhone's
    HEIC, a HEIF, an AVIF or an M4A went up as ``type=video, video/mp4`` (and with
    ``type="image"`` the error called the HEIC "a MP4 video"); a GIF or a Matroska file
    named .jpg/.webm went up as what its name said. Each is now refused locally, named
    as what it is, with what the API accepts."""
    path = write(tmp_path, name, data)
    async with FakePowerPost() as server, server.client() as pp:
        with pytest.raises(ValueError, match="is not an accepted format") as info:
            await pp.media.upload(path, type=media_type)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=rf"is not an accepted format \({found}\)"):
            await pp.media.upload(data, file_name="renamed.jpg")  # the name does not decide
    message = str(info.value)
    assert message.startswith(f"{path} is not an accepted format ({found}): {ACCEPTED}")
    assert "content_type=" in message
    assert "MP4 video" not in message
    assert len(server.requests) == 0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(iso_file(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), id="isom"),
        pytest.param(iso_file(b"iso2", b"iso2", b"mp41"), id="iso2"),
        pytest.param(iso_file(b"iso6", b"iso6", b"dash"), id="iso6"),
        pytest.param(iso_file(b"mp41"), id="mp41"),
        pytest.param(iso_file(b"mp42", b"isom", b"mp42"), id="mp42"),
        pytest.param(iso_file(b"avc1", b"isom"), id="avc1"),
        pytest.param(iso_file(b"dash", b"iso6", b"mp41"), id="dash"),
        pytest.param(iso_file(b"M4V ", b"M4V ", b"mp42", b"isom"), id="m4v"),
        pytest.param(iso_file(b"3gp4", b"3gp4", b"isom"), id="3gp4"),
        pytest.param(iso_file(b"3gp6", b"3gp6"), id="3gp6"),
        pytest.param(iso_file(b"XAVC", b"XAVC", b"mp42", b"iso2"), id="unknown-major"),
        pytest.param(ftyp(b"isom"), id="no-compatible-brands"),
    ],
)
async def test_mp4_brands_upload_as_mp4_videos(data: bytes) -> None:
    """Catches a brand reading that refuses real MP4s: every MP4-family brand (and an
    unknown major brand with an MP4 compatible brand) still goes up as an MP4 video."""
    async with FakePowerPost() as server, server.client() as pp:
        media = await pp.media.upload(data)
    assert (media.type, media.mime_type, media.file_name) == ("video", "video/mp4", "upload.mp4")
    assert server.media(media.media_id)["file_size"] == len(data)


async def test_a_quicktime_brand_uploads_as_a_mov_video(
    mock: tuple[PowerPost, list[Request]],
) -> None:
    """Catches MOV (brand ``qt  ``, listed by the upload page) being refused or sent as
    MP4, and the old wording "a MP4 video" in the type mismatch message."""
    pp, seen = mock
    mov = iso_file(b"qt  ", b"qt  ")
    async with pp:
        await pp.media.upload(mov)
        with pytest.raises(
            ValueError, match="is a MOV video: it cannot be uploaded as type='image'"
        ):
            await pp.media.upload(mov, type="image")
        with pytest.raises(
            ValueError, match="is an MP4 video: it cannot be uploaded as type='image'"
        ):
            await pp.media.upload(iso_file(b"mp42"), type="image")
    (request,) = seen
    parts = parse_multipart(request)
    assert parts["type"][1] == b"video"
    assert parts["file"][0]["Content-Type"] == "video/quicktime"
    assert 'filename="upload.mov"' in parts["file"][0]["Content-Disposition"]


async def test_compatible_brands_are_read_only_up_to_the_box_size() -> None:
    """Catches brands read past the ``ftyp`` box: the next box's bytes (here spelling
    ``heic``) are not a compatible brand."""
    data = ftyp(b"isom") + b"heic" + b"mdat" + b"\x00" * 200
    async with FakePowerPost() as server, server.client() as pp:
        media = await pp.media.upload(data)
    assert media.mime_type == "video/mp4"
    assert len(server.requests) == 1


async def test_a_webm_doc_type_still_uploads_as_webm() -> None:
    """Catches the Matroska check refusing real WebM files (DocType ``webm``)."""
    async with FakePowerPost() as server, server.client() as pp:
        media = await pp.media.upload(ebml(b"webm"), file_name="clip.webm")
    assert (media.type, media.mime_type) == ("video", "video/webm")
    assert server.media(media.media_id)["mime_type"] == "video/webm"


BRANDS = [b"heic", b"mif1", b"avif", b"M4A ", b"qt  ", b"isom", b"mp42", b"3gp4", b"abcd"]


@given(
    head=st.one_of(
        st.binary(max_size=80),
        st.builds(
            lambda size, brands, tail: size.to_bytes(4, "big") + b"ftyp" + b"".join(brands) + tail,
            st.integers(0, 2**32 - 1),
            st.lists(st.sampled_from(BRANDS) | st.binary(min_size=4, max_size=4), max_size=14),
            st.binary(max_size=6),
        ),
    )
)
def test_the_format_reading_is_total(head: bytes) -> None:
    """Catches a format reading that raises, or answers a format it cannot name, on any
    first bytes (truncated ftyp boxes, absurd box sizes, brands cut short): the SDK and
    the fake both run it on whatever a caller sends."""
    found = identify_format(head)
    assert found is None or found in MEDIA_FORMATS or found in UNLISTED_FORMATS
    if found is not None:
        assert describe_format(found)
    assert sniff_format(head) == (found if found in MEDIA_FORMATS else None)


async def test_a_file_cut_inside_its_ftyp_box_is_not_guessed() -> None:
    """Catches a brand cut short being read as a brand (``3gp`` of a truncated file
    taken for 3GPP): such a file is not recognised, and its name decides."""
    cut = b"\x00\x00\x00\x14ftyp3gp"
    async with FakePowerPost() as server, server.client() as pp:
        with pytest.raises(ValueError, match="its first bytes are none of theirs"):
            await pp.media.upload(cut)
        media = await pp.media.upload(cut, file_name="clip.mp4")
    assert media.mime_type == "video/mp4"
    assert len(server.requests) == 1


# -- item 3: content_type and (file_name, content, content_type) -----------------------------


async def test_content_type_states_the_format_and_skips_sniffing(tmp_path: Path) -> None:
    """Catches a user who knows better having no way to say so: bytes the SDK cannot
    tell (no known mark, no extension; an ISO file of unknown brands) go up as the
    content type stated, with that type's ``type`` and extension."""
    odd = b"\x00\x01\x02 an unusual video header " * 8
    unknown_brands = iso_file(b"abcd", b"efgh")
    async with FakePowerPost() as server, server.client() as pp:
        with pytest.raises(ValueError, match="is not an accepted format"):
            await pp.media.upload(odd)
        as_mp4 = await pp.media.upload(odd, content_type="video/mp4")
        as_mov = await pp.media.upload(
            write(tmp_path, "take", unknown_brands), content_type="video/quicktime"
        )
        aliased = await pp.media.upload(odd, content_type="IMAGE/JPG; q=1")
    assert (as_mp4.type, as_mp4.mime_type, as_mp4.file_name) == ("video", "video/mp4", "upload.mp4")
    assert (as_mov.type, as_mov.mime_type, as_mov.file_name) == ("video", "video/quicktime", "take")
    assert (aliased.type, aliased.mime_type) == ("image", "image/jpeg")
    assert server.requests.count(endpoint="upload", status=200) == 3


async def test_a_tuple_source_names_the_file_and_states_its_type(tmp_path: Path) -> None:
    """Catches ``(file_name, content[, content_type])`` tuples (as openai-python takes
    files) being refused as an unknown source kind."""
    path = write(tmp_path, "cat.jpg", JPEG)
    odd = b"\x00 not a known mark " * 8
    async with FakePowerPost() as server, server.client() as pp:
        named = await pp.media.upload(("kitten.jpg", path))
        stated = await pp.media.upload(("clip.webm", odd, "video/webm"))
        with path.open("rb") as file:
            unnamed = await pp.media.upload((None, file, None))
        same_twice = await pp.media.upload(("a.png", PNG), file_name="a.png")
    assert (named.file_name, named.mime_type) == ("kitten.jpg", "image/jpeg")
    assert (stated.type, stated.file_name, stated.mime_type) == ("video", "clip.webm", "video/webm")
    assert (unnamed.file_name, unnamed.mime_type) == ("cat.jpg", "image/jpeg")
    assert same_twice.file_name == "a.png"
    assert server.requests.count(endpoint="upload", status=200) == 4


async def test_a_stated_content_type_is_still_checked_before_sending(
    mock: tuple[PowerPost, list[Request]],
) -> None:
    """Catches ``content_type`` as a way around the checks: it must be a format the API
    lists, accepted by ``type``, and the file within the type's limit; a tuple that
    contradicts the keywords, or has the wrong length, is refused too."""
    pp, seen = mock
    big = b"\x00" * (10 * 1024 * 1024 + 1)
    listed = "image/jpeg, image/png, image/webp, video/mp4, video/quicktime, video/webm"
    async with pp:
        for stated in ("image/heic", "image/gif", "text/plain", "video/x-matroska"):
            with pytest.raises(
                ValueError, match=f"is not a format the API lists: it accepts {listed}"
            ):
                await pp.media.upload(PNG, content_type=stated)
        with pytest.raises(ValueError, match="images may be at most 10 MiB"):
            await pp.media.upload(big, content_type="image/png")
        with pytest.raises(
            ValueError, match="is an MP4 video: it cannot be uploaded as type='image'"
        ):
            await pp.media.upload(PNG, content_type="video/mp4", type="image")
        with pytest.raises(TypeError, match="content_type must be a string"):
            await pp.media.upload(PNG, content_type=b"image/png")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="content_type is given twice"):
            await pp.media.upload(("a.png", PNG, "image/png"), content_type="image/jpeg")
        with pytest.raises(ValueError, match="file_name is given twice"):
            await pp.media.upload(("a.png", PNG), file_name="b.png")
        with pytest.raises(TypeError, match="a tuple source is"):
            await pp.media.upload(("a.png",))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="is empty"):
            await pp.media.upload(("a.png", b"", "image/png"))
    assert seen == []


async def test_a_stated_type_is_sent_as_stated_and_the_fake_checks_the_content(
    mock: tuple[PowerPost, list[Request]],
) -> None:
    """Catches the fake accepting what the SDK refuses as unlisted: a HEIC stated to be
    a JPEG goes out as stated (the SDK trusts the caller), and the fake, like a server
    that reads the content, refuses it as a HEIC image."""
    pp, seen = mock
    heic = iso_file(b"heic", b"mif1", b"heic")
    async with pp:
        await pp.media.upload(("IMG_0001.HEIC", heic, "image/jpeg"))
    (request,) = seen
    assert parse_multipart(request)["file"][0]["Content-Type"] == "image/jpeg"
    async with FakePowerPost() as server, server.client() as fake_pp:
        with pytest.raises(BadRequestError, match=r"Unsupported image format \(a HEIC image\)"):
            await fake_pp.media.upload(heic, content_type="image/jpeg")
    assert server.requests.count(endpoint="upload", status=400) == 1


# -- item 4: a file that grows (or shrinks) while it streams --------------------------------


def grow_once(path: Path, by: int) -> Callable[[int, int | None], None]:
    """An ``on_progress`` that appends ``by`` bytes to ``path`` the first time it runs."""
    grown: list[bool] = []

    def on_progress(sent: int, total: int | None) -> None:
        if not grown:
            grown.append(True)
            with path.open("ab") as file:
                file.write(b"\x09" * by)

    return on_progress


@pytest.mark.parametrize("use_socket", [False, True], ids=["memory", "socket"])
async def test_a_file_that_grows_while_uploading_fails(tmp_path: Path, use_socket: bool) -> None:
    """Catches a growing file being cut silently to its first size (20 MiB of a file
    that became 30 MiB was uploaded, and succeeded): the upload now fails with a
    ValueError naming the file and both sizes, and nothing is stored."""
    size = 3 * CHUNK_SIZE
    path = sparse_mp4(tmp_path, size)
    steady = sparse_mp4(tmp_path, size, "steady.mp4")
    async with FakePowerPost() as server, server.client(use_socket=use_socket) as pp:
        with pytest.raises(ValueError, match="grew while") as info:
            await pp.media.upload(path, on_progress=grow_once(path, CHUNK_SIZE))
        media = await pp.media.upload(steady)  # a file that keeps its size still goes
    assert str(info.value).startswith(
        f"{path} grew while it was being uploaded: it had {size} bytes when the upload "
        f"began, {size + CHUNK_SIZE} now"
    )
    assert media.file_size == size
    assert server.requests.count(endpoint="upload", status=200) == 1


async def test_a_growing_file_object_fails_too(tmp_path: Path) -> None:
    """Catches the same silent cut for an open binary file (a seekable file object)."""
    size = 2 * CHUNK_SIZE + 100
    path = sparse_mp4(tmp_path, size)
    async with FakePowerPost() as server, server.client() as pp:
        with path.open("rb") as file, pytest.raises(ValueError, match="grew while") as info:
            await pp.media.upload(file, on_progress=grow_once(path, 10))
    assert str(info.value).startswith(
        f"'clip.mp4' grew while it was being uploaded: it had {size} bytes when the upload "
        f"began, {size + 10} now"
    )
    assert server.requests.count(endpoint="upload", status=200) == 0


async def test_a_grown_file_fails_before_its_last_chunk_is_handed_over(
    sleep: RecordingSleep, tmp_path: Path
) -> None:
    """Catches growth detected only after the request ended: the failure comes when the
    declared length is reached, so the transport never receives the whole body (its
    last file chunk and the closing delimiter are never handed over)."""
    size = 3 * CHUNK_SIZE
    path = sparse_mp4(tmp_path, size)
    received: list[int] = []
    declared: list[int | None] = []

    async def handler(request: Request) -> Response:
        assert isinstance(request.content, StreamBody)
        declared.append(request.content.length)
        async for chunk in request.content:
            received.append(len(chunk))
        return media_ok(request)

    transport = MockTransport(handler, read_body=False)
    async with PowerPost(
        API_KEY, WORKSPACE, transport=transport, sleep=sleep, clock=sleep.clock
    ) as pp:
        with pytest.raises(ValueError, match="grew while it was being uploaded"):
            await pp.media.upload(path, on_progress=grow_once(path, CHUNK_SIZE))
    (length,) = declared
    assert length is not None
    framing = received[0]
    assert received[1:] == [CHUNK_SIZE, CHUNK_SIZE]  # the third chunk never went
    assert sum(received) < length - CHUNK_SIZE
    assert framing < 1024


async def test_a_file_that_shrinks_names_both_sizes(tmp_path: Path) -> None:
    """Catches the shrink message naming one size only: a shrinking file fails like a
    growing one, a ValueError naming the file, its size at the start and its size now."""
    size = 3 * CHUNK_SIZE
    path = sparse_mp4(tmp_path, size)

    def shrink(sent: int, total: int | None) -> None:
        os.truncate(path, CHUNK_SIZE + 10)

    async with FakePowerPost() as server, server.client() as pp:
        with pytest.raises(ValueError, match="shrank while") as info:
            await pp.media.upload(path, on_progress=shrink)
    assert str(info.value).startswith(
        f"{path} shrank while it was being uploaded: it had {size} bytes when the upload "
        f"began, {CHUNK_SIZE + 10} now"
    )
    assert server.requests.count(endpoint="upload", status=200) == 0


# -- item 5: a missing file -------------------------------------------------------------------


async def test_a_missing_file_is_a_file_not_found_error(tmp_path: Path) -> None:
    """Catches a missing path raising a bare ValueError: it is a FileNotFoundError
    (``errno`` ENOENT, ``filename`` the path, a message naming it), still a ValueError
    for code that caught that, and nothing is sent."""
    missing = tmp_path / "missing.jpg"
    async with FakePowerPost() as server, server.client() as pp:
        for source in (missing, str(missing), ("photo.jpg", missing)):
            with pytest.raises(FileNotFoundError) as info:
                await pp.media.upload(source)
            error = info.value
            assert isinstance(error, ValueError)
            assert (error.errno, error.filename) == (errno.ENOENT, str(missing))
            assert str(error) == f"cannot read {missing}: No such file or directory"
        with pytest.raises(ValueError, match="cannot read") as directory:
            await pp.media.upload(tmp_path)
        assert not isinstance(directory.value, FileNotFoundError)
    assert len(server.requests) == 0
