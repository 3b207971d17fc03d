"""The one cattrs converter that owns the wire format.

Structuring is strict about types (a ``"10"`` is not a number, a string is not a list)
and tolerant about the future (unknown fields are ignored, unknown statuses, platforms
and research modes are kept). Hooks are generated once, specialised per class, and run
without cattrs' detailed validation: on the rare payload that fails, the same data is
structured again by a twin converter with detailed validation, only to say what was wrong.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._exceptions import ResponseValidationError
from ._models import (
    CalendarEntry,
    CreatedGeneration,
    CreatedImageGeneration,
    CreatedVideoGeneration,
    Credits,
    GeneratedImage,
    GeneratedVideo,
    Generation,
    GenerationError,
    GenerationStatus,
    GenerationSummary,
    ImageGeneration,
    ItemAnalytics,
    Media,
    Metrics,
    Output,
    Page,
    Post,
    PostAction,
    PostItem,
    PostItemStatus,
    PostStatus,
    VideoGeneration,
    YouTubeOutput,
)

__all__ = [
    "converter",
    "dumps",
    "loads",
    "parse_date",
    "parse_datetime",
    "parse_time",
    "structure",
    "structure_outputs",
    "to_dict",
    "to_json",
    "unstructure",
]

T = TypeVar("T")


def _json_loads(body: bytes) -> Any:
    return json.loads(body)


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


loads: Callable[[bytes], Any] = _json_loads
dumps: Callable[[Any], bytes] = _json_dumps
try:  # orjson is an optional extra: faster, and it changes no behaviour.
    import orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    pass
else:
    loads = orjson.loads
    dumps = orjson.dumps


class _WireTypeError(TypeError):
    pass


def _fail(expected: str, value: object) -> _WireTypeError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return _WireTypeError(f"expected {expected}, got {type(value).__name__} {shown}")


def _structure_str(value: Any, _: object) -> str:
    if type(value) is str:
        return value
    raise _fail("a string", value)


def _structure_int(value: Any, _: object) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise _fail("an integer", value)


def _structure_float(value: Any, _: object) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    raise _fail("a number", value)


def _structure_bool(value: Any, _: object) -> bool:
    if type(value) is bool:
        return value
    raise _fail("a boolean", value)


def _structure_optional_str(value: Any, _: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _fail("a string or null", value)


def _structure_optional_int(value: Any, _: object) -> int | None:
    return None if value is None else _structure_int(value, None)


def _structure_str_tuple(value: Any, _: object) -> tuple[str, ...]:
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                raise _fail("a list of strings", value)
        return tuple(value)
    raise _fail("a list of strings", value)


_STATUSES: dict[str, GenerationStatus] = {s.value: s for s in GenerationStatus}


def _structure_status(value: Any, _: object) -> GenerationStatus:
    status = _STATUSES.get(value) if type(value) is str else None
    if status is not None:
        return status
    if type(value) is str and value:
        return GenerationStatus(value)  # unknown to us: kept, never terminal
    raise _fail("a status string", value)


def _open_status_hook(cls: Any) -> Callable[[Any, object], Any]:
    """The hook of a status enum: its members at dict speed, unknown values kept."""
    members = {member.value: member for member in cls}

    def structure_status(value: Any, _: object) -> Any:
        status = members.get(value) if type(value) is str else None
        if status is not None:
            return status
        if type(value) is str and value:
            return cls(value)  # unknown to us: kept, never terminal
        raise _fail("a status string", value)

    return structure_status


def parse_date(value: Any, _: object = None) -> date:
    """A ``YYYY-MM-DD`` day (a full timestamp is accepted too: its date is used)."""
    if type(value) is not str:
        raise _fail("a YYYY-MM-DD date", value)
    try:
        return date.fromisoformat(value[:10]) if len(value) > 10 else date.fromisoformat(value)
    except ValueError:
        raise _fail("a YYYY-MM-DD date", value) from None


def parse_time(value: Any, _: object = None) -> time:
    """An ``HH:MM`` (or ``HH:MM:SS``) time of day."""
    if type(value) is not str:
        raise _fail("an HH:MM time", value)
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise _fail("an HH:MM time", value) from None


def _format_time(value: time) -> str:
    return value.strftime("%H:%M") if not value.second and not value.microsecond else str(value)


_ISO_FALLBACK = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<frac>\d+))?(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(value: Any, _: object = None) -> datetime:
    """An API timestamp (ISO 8601, ``Z`` or an offset) as an aware datetime (webhooks too)."""
    if type(value) is not str:
        raise _fail("an ISO 8601 timestamp", value)
    try:
        # 3.11+ reads any ISO 8601 form, "Z" included; 3.10 needs the slow path for some.
        parsed = datetime.fromisoformat(value if _FULL_ISO else _zulu(value))
    except ValueError:
        parsed = _parse_datetime_slow(value)
    if parsed.tzinfo is None:  # the API speaks UTC; a naive stamp is read as UTC
        return parsed.replace(tzinfo=timezone.utc)
    return parsed


_FULL_ISO = sys.version_info >= (3, 11)


def _zulu(value: str) -> str:
    return value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value


def _parse_datetime_slow(value: str) -> datetime:
    # Python 3.10's fromisoformat only reads what isoformat writes: take the rest by hand.
    match = _ISO_FALLBACK.match(value)
    if match is None:
        raise _fail("an ISO 8601 timestamp", value)
    base = datetime.fromisoformat(match["base"].replace(" ", "T"))
    frac = match["frac"]
    if frac:
        base = base.replace(microsecond=int((frac + "000000")[:6]))
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return base.replace(tzinfo=timezone(sign * offset))
    return base.replace(tzinfo=timezone.utc)


def _format_datetime(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def structure_outputs(value: Any, _: object) -> Mapping[str, Output] | None:
    """A generation's ``outputs`` object: captions, or title/description objects."""
    if value is None:
        return None
    if type(value) is not dict:
        raise _fail("an object of outputs", value)
    outputs: dict[str, Output] = {}
    for platform, output in value.items():
        if type(output) is str:
            outputs[platform] = output
        elif type(output) is dict:
            # youtube (and any future platform shaped like it) has a title and description.
            outputs[platform] = YouTubeOutput(
                title=_structure_str(output.get("title"), None),
                description=_structure_str(output.get("description"), None),
            )
        else:
            raise _fail(f"a caption string or a title/description object for {platform!r}", output)
    return outputs


def _unstructure_outputs(value: Mapping[str, Output] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        platform: output
        if isinstance(output, str)
        else {"title": output.title, "description": output.description}
        for platform, output in value.items()
    }


def _is(expected: Any) -> Callable[[Any], bool]:
    return lambda t: bool(t == expected)


def _is_page(t: Any) -> bool:
    return t is Page or get_origin(t) is Page


def _configure(conv: cattrs.Converter) -> cattrs.Converter:
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_func(_is(tuple[str, ...]), _structure_str_tuple)
    conv.register_structure_hook(GenerationStatus, _structure_status)
    conv.register_structure_hook(datetime, parse_datetime)
    conv.register_structure_hook_func(_is(Mapping[str, Output] | None), structure_outputs)

    conv.register_unstructure_hook(datetime, _format_datetime)
    conv.register_unstructure_hook(GenerationStatus, lambda s: s._value_)
    conv.register_unstructure_hook_func(_is(Mapping[str, Output] | None), _unstructure_outputs)
    conv.register_unstructure_hook_func(_is(tuple[str, ...]), list)

    # cattrs' generic handling of ``X | None`` dispatches on every call; these don't.
    conv.register_structure_hook_func(_is(str | None), _structure_optional_str)
    conv.register_structure_hook_func(_is(int | None), _structure_optional_int)

    for part in (GenerationError, YouTubeOutput):
        conv.register_structure_hook(part, make_dict_structure_fn(part, conv))
    structure_error = conv.get_structure_hook(GenerationError)

    def structure_optional_error(value: Any, _: object) -> GenerationError | None:
        return None if value is None else structure_error(value, GenerationError)

    conv.register_structure_hook_func(_is(GenerationError | None), structure_optional_error)

    for cls in (GenerationSummary, Generation, CreatedGeneration, Credits):
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv))
    # -- the rest of the API: fewer calls, less documented; unknown fields kept in extra --
    for status_cls in (PostStatus, PostItemStatus):
        conv.register_structure_hook(status_cls, _open_status_hook(status_cls))
        conv.register_unstructure_hook(status_cls, lambda s: s._value_)
    conv.register_structure_hook(date, parse_date)
    conv.register_structure_hook(time, parse_time)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_unstructure_hook(time, _format_time)
    for optional, hook in (
        (datetime | None, parse_datetime),
        (date | None, parse_date),
        (time | None, parse_time),
        (float | None, _structure_float),
        (bool | None, _structure_bool),
    ):
        conv.register_structure_hook_func(_is(optional), _optional(hook))
    for plain in (GeneratedImage, GeneratedVideo):
        conv.register_structure_hook(plain, make_dict_structure_fn(plain, conv))
    conv.register_structure_hook(Metrics, _keeping_extra(Metrics, conv))
    nested: Any
    for nested in (GeneratedVideo, Metrics):
        optional_hook = _optional(conv.get_structure_hook(nested))
        conv.register_structure_hook_func(_is(nested | None), optional_hook)
    extended: tuple[Any, ...] = (
        Media,
        CreatedImageGeneration,
        CreatedVideoGeneration,
        ImageGeneration,
        VideoGeneration,
        PostItem,
        Post,
        PostAction,
        ItemAnalytics,
        CalendarEntry,
    )
    for model in extended:
        conv.register_structure_hook(model, _keeping_extra(model, conv))
    for model in (*extended, Metrics):
        conv.register_unstructure_hook(model, _flattening_extra(model, conv))

    def page_hook_factory(page_type: Any) -> Callable[[Any, Any], Page[Any]]:
        (item_type,) = get_args(page_type) or (Any,)
        item_hook = conv.get_structure_hook(item_type)

        def structure_page(value: Any, _: object) -> Page[Any]:
            if type(value) is not dict:
                raise _fail("a page object", value)
            data = value.get("data")
            if type(data) is not list:
                raise _fail("a list in 'data'", data)
            cursor = value.get("next_cursor")
            if cursor is not None and type(cursor) is not str:
                raise _fail("a string or null in 'next_cursor'", cursor)
            has_more = value.get("has_more", cursor is not None)
            return Page(
                data=tuple([item_hook(item, item_type) for item in data]),
                next_cursor=cursor,
                has_more=_structure_bool(has_more, None),
            )

        return structure_page

    conv.register_structure_hook_factory(_is_page, page_hook_factory)
    return conv


def _optional(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure_optional(value: Any, cls: Any) -> Any:
        return None if value is None else hook(value, cls)

    return structure_optional


def _keeping_extra(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """The hook of a model with an ``extra`` field: unknown fields land there, as sent."""
    fields = attrs.fields(cls)
    known = frozenset(f.name for f in fields if f.name != "extra")
    inner = make_dict_structure_fn(cls, conv)

    def structure_keeping_extra(value: Any, _: object) -> Any:
        if type(value) is not dict:
            raise _fail(f"an object ({cls.__name__})", value)
        unknown = {k: v for k, v in value.items() if k not in known}
        if unknown:
            value = {k: v for k, v in value.items() if k in known}
            value["extra"] = unknown
        elif "extra" in value:
            value = {**value, "extra": {}}
        return inner(value, cls)

    return structure_keeping_extra


def _flattening_extra(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Any]:
    """Unstructure a model with ``extra`` back to the API's shape: the fields it did
    not know go back beside the others."""
    inner = make_dict_unstructure_fn(cls, conv, extra=override(omit=True))

    def unstructure_flattening(value: Any) -> Any:
        data = inner(value)
        if value.extra:
            data = {**value.extra, **data}
        return data

    return unstructure_flattening


#: The converter: fast, specialised hooks, no detailed validation.
converter = _configure(cattrs.Converter(detailed_validation=False))
# Its twin, used only to explain a failure.
_explainer = _configure(cattrs.Converter(detailed_validation=True))


# Hooks looked up once per class: converter.structure() dispatches on every call.
_hooks: dict[Any, Callable[[Any, Any], Any]] = {}


def structure(data: Any, cls: type[T], *, body: bytes | None = None) -> T:
    """Structure decoded JSON into ``cls``, or raise
    [`ResponseValidationError`][powerpost_async.ResponseValidationError]."""
    hook = _hooks.get(cls)
    if hook is None:
        hook = _hooks[cls] = converter.get_structure_hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except Exception as exc:  # any structuring failure; cancellation is not an Exception
        raise _validation_error(data, cls, body) from exc


def unstructure(obj: Any) -> Any:
    """Turn a model back into JSON-ready dicts, lists and strings (the wire format)."""
    return converter.unstructure(obj)


def to_dict(model: Any) -> Any:
    """A model (or a list of them) as JSON-ready data, in the API's own shape.

    Dicts, lists, strings, numbers, booleans and ``None``: field names as the API sends
    them, statuses as their strings, datetimes in ISO 8601 with ``Z`` for UTC. Ready for
    ``json.dumps``, a web framework's JSON response, or a queue.

    Raises:
        TypeError: ``model`` is not one of the SDK's models (or a list or tuple of them).
    """
    if isinstance(model, (list, tuple)):
        return [to_dict(item) for item in model]
    if not attrs.has(type(model)):
        raise TypeError(f"to_dict takes one of the SDK's models, got {type(model).__name__}")
    return converter.unstructure(model)


def to_json(model: Any, *, indent: int | None = None) -> str:
    """A model (or a list of them) as a JSON string: `to_dict`, serialised.

    Args:
        model: A model, or a list or tuple of models.
        indent: Indent nested levels by this many spaces (``None``: compact).

    Raises:
        TypeError: ``model`` is not one of the SDK's models (or a list or tuple of them).
    """
    data = to_dict(model)
    if indent is None:
        return _json_dumps(data).decode()
    return json.dumps(data, indent=indent, ensure_ascii=False)


def _validation_error(data: Any, cls: Any, body: bytes | None) -> ResponseValidationError:
    name = getattr(cls, "__name__", None) or repr(cls)
    if not isinstance(data, dict):
        got = "null" if data is None else type(data).__name__
        return ResponseValidationError(
            f"could not read the response as {name}",
            body=body,
            errors=[f"expected a JSON object, got {got}"],
        )
    try:
        _explainer.structure(data, cls)
    except Exception as exc:  # explain whatever went wrong, never raise a second error
        errors = _describe(exc)
    else:  # pragma: no cover - the twins disagree; still say something useful
        errors = ["the payload did not match the expected shape"]
    return ResponseValidationError(
        f"could not read the response as {name}", body=body, errors=errors
    )


def _describe(exc: BaseException) -> list[str]:
    if isinstance(exc, cattrs.BaseValidationError):
        try:
            return cattrs.transform_error(exc, path="$", format_exception=_format_exception)
        except Exception:  # pragma: no cover - transform_error itself failed
            return [str(exc)]
    return [_format_exception(exc, None)]


def _format_exception(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, _WireTypeError):
        return str(exc)
    return f"invalid value ({type(exc).__name__}: {exc})"
