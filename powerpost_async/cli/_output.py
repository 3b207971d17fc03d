"""How the CLI prints: plain text for pipes and logs, rich tables and live bars on a terminal.

Commands describe *what* to show (fields, a table, a titled block, progress) through the
small :class:`UI` protocol; :class:`PlainUI` and :class:`RichUI` decide *how*. Plain
output is stable (no colours, no widths taken from the terminal, ASCII decorations) so
that it can be diffed, grepped and pasted into docs. JSON output bypasses both: see
:func:`emit_json`.

Errors have one shape, :class:`ErrorReport`, shown one of two ways: an ``error:`` line
and indented hints on stderr, or, under ``--json``, one JSON object on stdout::

    {"error": {"type": "NotFoundError", "message": "404 NOT_FOUND: ...",
               "status_code": 404, "code": "NOT_FOUND", "request_id": "req_..."}}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

import attrs

from powerpost_async import (
    APIConnectionError,
    APIStatusError,
    CircuitOpenError,
    GenerationFailedError,
    ImageGenerationFailedError,
    InsufficientScopeError,
    PlatformNotConnectedError,
    PostFailedError,
    RateLimitError,
    VideoGenerationFailedError,
    WaitProgress,
    WaitTimeoutError,
    to_dict,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = [
    "UI",
    "USAGE_ERROR",
    "Column",
    "ErrorReport",
    "PlainUI",
    "Reporter",
    "RichUI",
    "TransferReport",
    "UIMode",
    "describe_progress",
    "emit_json",
    "error_details",
    "rich_available",
    "seconds",
    "shorten",
    "when",
]

UIMode = Literal["auto", "rich", "plain"]
#: The ``type`` of an error in the command line itself (arguments, configuration):
#: nothing was sent. Errors from the SDK keep the name of their exception class.
USAGE_ERROR = "UsageError"
#: A ``shrink`` column is cut on a narrow terminal, but not below this many characters.
SHRINK_MIN_WIDTH = 20

# Rich styles per status; plain output shows the word alone.
_STATUS_STYLE = {
    "pending": "dim",
    "processing": "yellow",
    "completed": "green",
    "failed": "bold red",
}


@attrs.frozen
class Column:
    """A table column.

    Attributes:
        header: Its title.
        right: Right-aligned (numbers).
        status: Holds statuses (coloured by rich).
        shrink: May be cut on a narrow terminal (free text); the others keep their full
            width (ids are copied from there, numbers must stay whole).
    """

    header: str
    right: bool = False
    status: bool = False
    shrink: bool = False


class Reporter(Protocol):
    """Progress of a multi-generation wait, fed by the SDK's ``on_progress`` callback."""

    def update(self, progress: WaitProgress) -> None:
        """Show the latest counts."""

    def log(self, text: str) -> None:
        """Print one line (above the bar, when there is one)."""


class TransferReport(Protocol):
    """Progress of an upload, fed by the SDK's ``on_progress(sent, total)`` callback."""

    def __call__(self, sent: int, total: int | None, /) -> None:
        """Show ``sent`` bytes of ``total`` (``None``: not known)."""


class UI(Protocol):
    """What commands print through (see the module docstring)."""

    def line(self, text: str = "") -> None:
        """One line of text, shown as it is (no markup)."""

    def fields(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label/value pairs, aligned; multi-line values are indented under the first line."""

    def table(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        header: bool = True,
    ) -> None:
        """A table of text cells."""

    def block(self, title: str, body: str) -> None:
        """A titled block of free text (a caption)."""

    def progress(
        self, total: int, label: str, *, milestones: bool = False
    ) -> contextlib.AbstractContextManager[Reporter]:
        """A progress display for ``total`` generations, for the duration of a ``with``."""
        ...

    def transfer(self, label: str) -> contextlib.AbstractContextManager[TransferReport]:
        """A byte-count progress bar for an upload (shown on a terminal only)."""
        ...


def rich_available() -> bool:
    """``True`` when the ``cli`` extra (rich) is installed."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _plain(obj: Any) -> Any:
    """``obj`` with every SDK model in it turned into the API's wire format."""
    if attrs.has(type(obj)):
        return to_dict(obj)
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(item) for item in obj]
    return obj


def emit_json(obj: Any, stream: TextIO) -> None:
    """Write ``obj`` as one line of JSON, models rendered in the API's wire format.

    Flushed at once: ``wait --json`` is read line by line as generations finish.
    """
    stream.write(json.dumps(_plain(obj), ensure_ascii=False) + "\n")
    stream.flush()


def error_details(error: BaseException) -> dict[str, Any]:
    """What a program may act on in an SDK error, as JSON-ready fields (empty if nothing)."""
    details: dict[str, Any] = {}
    if isinstance(error, APIStatusError):
        details.update(status_code=error.status_code, code=error.code, request_id=error.request_id)
    if isinstance(error, (RateLimitError, CircuitOpenError)) and error.retry_after is not None:
        details["retry_after"] = error.retry_after
    if isinstance(error, APIConnectionError):
        details["request_sent"] = error.request_sent
    if isinstance(error, WaitTimeoutError):
        details.update(pending_ids=list(error.pending_ids), timeout=error.timeout)
    if isinstance(error, InsufficientScopeError) and error.scope is not None:
        details["scope"] = error.scope
    if isinstance(error, PlatformNotConnectedError) and error.platforms:
        details["platforms"] = list(error.platforms)
    # Each kind of JobFailedError carries its own job.
    job_error = None
    if isinstance(error, ImageGenerationFailedError):
        details["image_generation_id"] = error.image_generation.image_generation_id
        details["media_ids"] = [image.media_id for image in error.image_generation.images]
        job_error = error.image_generation.error
    elif isinstance(error, VideoGenerationFailedError):
        details["video_generation_id"] = error.video_generation.video_generation_id
        job_error = error.video_generation.error
    elif isinstance(error, GenerationFailedError):
        details["generation_id"] = error.generation.generation_id
        job_error = error.generation.error
    if job_error is not None:
        details["code"] = job_error.code
    if isinstance(error, PostFailedError):
        details["post_id"] = error.post.post_id
        details["failed_item_ids"] = [item.item_id for item in error.failed_items]
    return details


@attrs.frozen
class ErrorReport:
    """One error, as the command reports it (see the module docstring).

    Attributes:
        type: For programs: the SDK exception's class name (``NotFoundError``,
            ``WaitTimeoutError``, ...), or ``UsageError`` (`USAGE_ERROR`) for a problem
            with the arguments or the configuration.
        message: For people: one line, without the ``error:`` prefix.
        hints: What to do about it, a line each.
        details: Fields a program may act on: ``status_code``, ``code``,
            ``request_id``, ``retry_after``, ``request_sent``, ``pending_ids``,
            ``generation_id``, ``generation_ids``, ``scope``, ``platforms``,
            ``image_generation_id``, ``video_generation_id``, ``post_id``...
    """

    type: str
    message: str
    hints: tuple[str, ...] = ()
    details: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of(cls, error: BaseException, message: str | None = None) -> ErrorReport:
        """The report of an SDK error: its class name, its message, its details."""
        text = str(error) if message is None else message
        return cls(type(error).__name__, text, (), error_details(error))

    def as_json(self) -> dict[str, Any]:
        """The object under ``"error"``: ``type``, ``message``, the details, ``hints``."""
        document: dict[str, Any] = {"type": self.type, "message": self.message}
        document.update(self.details)
        if self.hints:
            document["hints"] = list(self.hints)
        return document

    def show(self, *, json_output: bool, stdout: TextIO, stderr: TextIO) -> None:
        """Print it: ``{"error": ...}`` on stdout under ``--json``, else lines on stderr."""
        if json_output:
            emit_json({"error": self.as_json()}, stdout)
            return
        stderr.write(f"error: {self.message}\n")
        for hint in self.hints:
            stderr.write(f"  {hint}\n")
        stderr.flush()


def when(moment: datetime) -> str:
    """A timestamp as ``2026-01-10 18:30:00``, in UTC (stable, whatever the local zone)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float) -> str:
    """A duration for people: ``850 ms`` below a second, else ``12.3 s``."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def shorten(text: str | None, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...`` (``-`` if empty)."""
    if not text:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3].rstrip() + "..."


def describe_progress(progress: WaitProgress) -> str:
    """``12 pending, 150 processing, 30 completed, 2 failed`` (unknown only when there are)."""
    parts = [
        f"{progress.pending} pending",
        f"{progress.processing} processing",
        f"{progress.completed} completed",
        f"{progress.failed} failed",
    ]
    if progress.unknown:
        parts.insert(0, f"{progress.unknown} not seen yet")
    return ", ".join(parts)


# -- plain text -------------------------------------------------------------------------------


class PlainUI:
    """Plain text: no colours, no terminal widths, ASCII only around the data."""

    def __init__(self, stream: TextIO) -> None:
        self._out = stream

    def line(self, text: str = "") -> None:
        # Flushed per line: `serve-fake` and `wait` are read by other programs as they go.
        self._out.write(text + "\n")
        self._out.flush()

    def fields(self, rows: Sequence[tuple[str, str]]) -> None:
        width = max((len(label) for label, _ in rows), default=0)
        for label, value in rows:
            first, *rest = value.splitlines() or [""]
            self.line(f"{label:<{width}}  {first}".rstrip())
            for more in rest:
                self.line(f"{'':<{width}}  {more}".rstrip())

    def table(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        header: bool = True,
    ) -> None:
        indent = ""
        if title:
            self.line(title)
            indent = "  "
        cells = [[c.header for c in columns], *rows] if header else list(rows)
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        for row in cells:
            parts = [
                value.rjust(widths[i]) if columns[i].right else value.ljust(widths[i])
                for i, value in enumerate(row)
            ]
            self.line((indent + "  ".join(parts)).rstrip())

    def block(self, title: str, body: str) -> None:
        self.line(f"[{title}]")
        for text in body.splitlines() or [""]:
            self.line(text)

    @contextlib.contextmanager
    def progress(self, total: int, label: str, *, milestones: bool = False) -> Iterator[Reporter]:
        yield _PlainReporter(self, total, label, milestones)

    @contextlib.contextmanager
    def transfer(self, label: str) -> Iterator[TransferReport]:
        # Quiet: a pipe or a log wants the result, not a line per 256 KiB.
        yield _ignore_transfer


def _ignore_transfer(sent: int, total: int | None, /) -> None:
    pass


class _PlainReporter:
    """Progress as text: nothing but the logged lines, or a line at each quarter done.

    Quarters rather than a line per change: the output stays a handful of lines, the
    same number every run, whether 20 or 20,000 generations are awaited.
    """

    def __init__(self, ui: PlainUI, total: int, label: str, milestones: bool) -> None:
        self._ui = ui
        self._total = total
        self._label = label
        self._milestones = milestones
        self._quarter = 0

    def update(self, progress: WaitProgress) -> None:
        if not self._milestones or not self._total:
            return
        quarter = progress.done * 4 // self._total
        if quarter > self._quarter:
            # Counts jump by a sweep's worth at a time, so one line may pass two quarters:
            # it shows the percentage reached, not the quarter.
            self._quarter = quarter
            self.log(
                f"  {progress.done * 100 // self._total:>3}% {self._label} done "
                f"({progress.done}/{progress.total}): {describe_progress(progress)}"
            )

    def log(self, text: str) -> None:
        self._ui.line(text)


# -- rich ----------------------------------------------------------------------------------


class RichUI:
    """Rich tables, panels and live progress bars (the ``cli`` extra)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        # No highlighting: ids and captions are data, not code to colour.
        self._console: Console = Console(file=stream, highlight=False)

    def line(self, text: str = "") -> None:
        self._console.print(text, markup=False, highlight=False)

    def fields(self, rows: Sequence[tuple[str, str]]) -> None:
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for label, value in rows:
            grid.add_row(Text(label), Text(value, style=_STATUS_STYLE.get(value, "")))
        self._console.print(grid)

    def table(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        header: bool = True,
    ) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, show_header=header, box=box.SIMPLE_HEAD, title_justify="left")
        needed = 3 * len(columns) + 2  # the cells' padding and the table's edges
        for i, column in enumerate(columns):
            width = max([len(row[i]) for row in rows] + [len(column.header) if header else 0])
            # Only ``shrink`` columns give way on a narrow terminal (cut with an ellipsis);
            # the others keep their whole width, on one line.
            needed += min(width, SHRINK_MIN_WIDTH) if column.shrink else width
            table.add_column(
                column.header,
                justify="right" if column.right else "left",
                no_wrap=True,
                overflow="ellipsis",
                min_width=None if column.shrink else width,
            )
        for row in rows:
            table.add_row(
                *(
                    Text(value, style=_STATUS_STYLE.get(value, "") if column.status else "")
                    for column, value in zip(columns, row, strict=True)
                )
            )
        console = self._console
        if needed > console.width:
            # Too narrow even so: draw it wider and let the terminal wrap its lines, rather
            # than cut an id or drop a column (rich never prints wider than its console).
            from rich.console import Console

            console = Console(file=console.file, width=needed, highlight=False)
        console.print(table)

    def block(self, title: str, body: str) -> None:
        from rich.panel import Panel
        from rich.text import Text

        self._console.print(Panel(Text(body), title=Text(title), title_align="left"))

    @contextlib.contextmanager
    def progress(self, total: int, label: str, *, milestones: bool = False) -> Iterator[Reporter]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}", markup=False),
            TimeElapsedColumn(),
            console=self._console,
        ) as progress:
            task = progress.add_task(label, total=total, counts="")
            yield _RichReporter(progress, task)

    @contextlib.contextmanager
    def transfer(self, label: str) -> Iterator[TransferReport]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=self._console,
        ) as progress:
            task = progress.add_task(label, total=None)

            def report(sent: int, total: int | None, /) -> None:
                progress.update(task, completed=sent, total=total)

            yield report


class _RichReporter:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def update(self, progress: WaitProgress) -> None:
        self._progress.update(
            self._task, completed=progress.done, counts=describe_progress(progress)
        )

    def log(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)
