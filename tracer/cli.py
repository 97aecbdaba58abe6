"""The ``spyglass`` command. Each subcommand is a small function registered in ``COMMANDS``;
later ones (``view``, ``demo``, ``export``) plug in the same way."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
from collections.abc import Callable

from . import default_db_path
from .store import Store, StoreError, _spool, display_location, is_postgres
from .store._schema import SCHEMA_VERSION
from .store.reader import TraceFilter
from .version import __version__

Command = Callable[[argparse.Namespace], int]
VIEW_CHECK_TIMEOUT_S = 1.0  # `spyglass view` checks the store before serving; busy is not an error
_STORE_HELP = "store: a DuckDB file path or a postgresql:// URL"
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {}


class MissingExtra(Exception):
    """A subcommand needs an optional dependency that is not installed; the text says what to install."""


def _require(module: str, extra: str, what: str) -> None:
    # find_spec, not import: the check stays cheap and the import error of a broken install
    # still surfaces where the module is really imported.
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(
            f"{what} needs {module}, which is not installed. Install the {extra!r} extra:\n"
            f"    {sys.executable} -m pip install 'spyglass[{extra}]'"
        )


def command(name: str, help: str, args: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(fn: Command) -> Command:
        COMMANDS[name] = (help, args, fn)
        return fn

    return register


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _traces_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--limit", type=_positive, default=20, help="how many traces (default 20)")
    p.add_argument("--status", choices=["OK", "ERROR"])
    p.add_argument("--model")
    p.add_argument("--search", help="full-text search over prompts, outputs and documents")


@command("info", "where the store is and what it holds")
def _info(ns: argparse.Namespace) -> int:
    if is_postgres(ns.db):
        _require("psycopg", "postgres", "a PostgreSQL store")
    store = Store(ns.db)
    counts = store.counts()
    print(f"store:   {store.path}")  # a server's without its password
    for table in ("traces", "spans", "documents", "decisions", "events"):
        print(f"{table + ':':9}{counts[table]:>10,}")
    print(f"dropped: {counts['dropped_spans']:>10,}")
    # A file's spool sits beside it; a server's on this host, shipped by the next write to it.
    waiting = "waiting on this host to be shipped" if is_postgres(ns.db) else "waiting to be ingested"
    print(f"spool:   {len(_spool.pending(store.path)):>10,} file(s) {waiting} ({_spool.spool_dir(store.path)})")
    return 0


@command("traces", "list recent traces", _traces_args)
def _traces(ns: argparse.Namespace) -> int:
    flt = TraceFilter(status=ns.status, model=ns.model, text=ns.search)
    rows = Store(ns.db).list_traces(flt, limit=ns.limit)
    print(f"{'start (UTC)':26} {'status':6} {'ms':>9} {'spans':>5} {'tokens':>7} {'cost $':>9}  root / trace id")
    for t in rows:
        tokens = (t["input_tokens"] or 0) + (t["output_tokens"] or 0)
        cost = f"{t['cost_usd']:.5f}" if t["cost_usd"] is not None else "-"
        print(
            f"{t['start_time']!s:26} {t['status_code']:6} {t['duration_ms']:>9.1f} {t['span_count']:>5} "
            f"{tokens:>7} {cost:>9}  {t['root_name'] or '?'} {t['trace_id']}"
        )
    return 0


@command("ingest", "ingest spool files left by writers that could not take the lock")
def _ingest(ns: argparse.Namespace) -> int:
    store = Store(ns.db)
    if store.ingest_pending(timeout=60):
        print(f"nothing left to ingest in {store.path}")
        return 0
    print(f"{store.path} stayed locked by another process; try again", file=sys.stderr)
    return 1


@command("index", "build the full-text search index for spans not indexed yet")
def _index(ns: argparse.Namespace) -> int:
    store = Store(ns.db)
    done, top = store.build_search_index()
    print(f"search index covers {done:,} of {top:,} spans in {store.path}")
    return 0 if done >= top else 1


def _view_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")


def _port_refused(host: str, port: int) -> bool:
    """Say why no server can listen on ``host:port`` now (True), before anything is written."""
    from viewer._launch import PortUnavailable, check_port

    try:
        check_port(host, port)
    except PortUnavailable as exc:
        print(f"spyglass: {exc}", file=sys.stderr)
        return True
    return False


@command("view", "open the trace viewer (a local Streamlit app) on the store", _view_args)
def _view(ns: argparse.Namespace) -> int:
    _require("streamlit", "viewer", "spyglass view")
    from viewer._launch import run  # imported here: the other commands need no Streamlit

    # A missing, foreign, damaged or newer store: say so here (exit 2) rather than start a
    # server whose every page says it. A store that is only busy opens fine once it is free.
    Store(ns.db, timeout=VIEW_CHECK_TIMEOUT_S).check()
    if _port_refused(ns.host, ns.port):  # e.g. another `spyglass view` on it: Streamlit would only fail later
        return 2
    return run(ns.db, host=ns.host, port=ns.port)


def _demo_args(p: argparse.ArgumentParser) -> None:
    _view_args(p)
    p.add_argument("--no-view", action="store_true", help="only write the demo store, do not open the viewer")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the demo store even when it holds annotations or traces the demo did not write",
    )


def _confirm(question: str) -> bool:
    """Ask on a terminal; anywhere else (a script, CI) the answer is no."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


@command("demo", "write demo traces (a small RAG app calling the openai client) and open the viewer", _demo_args)
def _demo(ns: argparse.Namespace) -> int:
    _require("openai", "openai", "spyglass demo")  # the demo app calls the real openai client
    if not ns.no_view:
        _require("streamlit", "viewer", "spyglass demo")  # checked before the store is written
        if _port_refused(ns.host, ns.port):  # likewise: a demo already serving there keeps its store
            return 2
    from viewer.demo import DEFAULT_DEMO_DB, DemoStoreHoldsWork, build_demo_store

    db = ns.db if ns.db_given else DEFAULT_DEMO_DB
    try:
        path = build_demo_store(db, force=ns.force)
    except DemoStoreHoldsWork as exc:
        # Never without asking: on a terminal, ask; elsewhere, refuse (exit 2) and say how to proceed.
        if not _confirm(f"{exc.path} holds {exc.what} that `spyglass demo` did not write. Delete them?"):
            raise
        path = build_demo_store(db, force=True)
    print(f"demo traces written to {path}")
    if ns.no_view:
        return 0
    return _view(argparse.Namespace(db=path, host=ns.host, port=ns.port))


class _ProgressBar:
    """A one-line progress bar on stderr (only when it is a terminal, so logs stay clean)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or total == 0:
            return
        width = 30
        filled = width * done // total
        end = "\n" if done >= total else ""
        print(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def _collect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=4318, help="port (default 4318, OTLP/HTTP's)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument(
        "--token", default=None, help="bearer token senders must give (default: $SPYGLASS_COLLECT_TOKEN, else none)"
    )


@command("collect", "receive OTLP/HTTP traces from any app, in any language, into the store", _collect_args)
def _collect(ns: argparse.Namespace) -> int:
    _require("opentelemetry.proto", "collect", "spyglass collect")
    import signal
    import threading

    from .otlp import Receiver

    token = ns.token or os.environ.get("SPYGLASS_COLLECT_TOKEN") or None
    if ns.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"spyglass collect: WARNING: listening on {ns.host}, reachable from other machines; "
            + (
                "senders must give the bearer token."
                if token
                else "anyone who can reach it can write traces (--token)."
            ),
            file=sys.stderr,
        )
    try:
        receiver = Receiver(ns.db, host=ns.host, port=ns.port, token=token).start()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(f"spyglass: cannot listen on {ns.host}:{ns.port}: {exc.strerror or exc}; try --port", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(
        f"spyglass collect: receiving OTLP/HTTP traces on {receiver.url}, writing to {display_location(ns.db)}",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    counts = receiver.stop()
    dropped = sum(counts.dropped.values())
    print(
        f"spyglass collect: stopped; {counts.accepted} spans accepted, {counts.stored} stored, "
        f"{counts.spooled} spooled for the next writer, {dropped} dropped, {counts.rejected} rejected in "
        f"accepted requests, {counts.refused_requests + counts.busy_requests} requests refused",
        flush=True,
    )
    return 0 if dropped == 0 else 1


def _check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=_positive, default=200, help="results written per write (default 200)")
    p.add_argument(
        "--scorer",
        default=None,
        help="offline (the default model), offline-v1, llm-judge (OPENAI_API_KEY), or a detector model folder or "
        "Hugging Face id in the local cache; results other than offline's are stored as 'grounding/<scorer>' "
        "(default: the configured check, SPYGLASS_GROUNDING_MODEL or offline)",
    )
    p.add_argument("--judge-model", default="gpt-4o-mini", help="the model llm-judge asks (default gpt-4o-mini)")
    p.add_argument(
        "--threshold", type=float, default=None, help="flag sentences above this P(unsupported) (default: the model's)"
    )
    p.add_argument("--all", action="store_true", help="check every LLM call again, not only the unchecked ones")


@command("check", "run the grounding check on LLM spans that have not been checked yet", _check_args)
def _check(ns: argparse.Namespace) -> int:
    from . import grounding
    from ._evaluate import EVALUATION_NAME, check_span, named_scorer

    if ns.threshold is not None and not 0.0 <= ns.threshold <= 1.0:
        print(f"spyglass: --threshold must be a probability between 0 and 1, not {ns.threshold}", file=sys.stderr)
        return 2
    name, scorer = EVALUATION_NAME, None
    if ns.scorer:
        try:
            name, scorer = named_scorer(ns.scorer, judge_model=ns.judge_model)
        except grounding.DetectorUnavailable as exc:
            print(f"spyglass: --scorer {ns.scorer}: {exc}", file=sys.stderr)
            return 2
    store = Store(ns.db)
    todo = store.llm_spans(unevaluated=None if ns.all else name)
    progress = _ProgressBar("checking")
    rows, written, flagged = [], 0, 0
    for i, span in enumerate(todo, 1):
        row = check_span(
            span["attributes"],
            span["documents"],
            span["tools"],
            span["inner"],
            scorer=scorer,
            threshold=ns.threshold,
            name=name,
        )
        if row is not None:
            rows.append({**row, "trace_id": span["trace_id"], "span_id": span["span_id"]})
            flagged += row["label"] == "hallucination"
        if len(rows) >= ns.batch or (i == len(todo) and rows):
            written += store.add_evaluations(rows)
            rows = []
        progress(i, len(todo))
    print(
        f"{name}: checked {written} of {len(todo)} {'' if ns.all else 'unchecked '}LLM calls ({len(todo) - written} had no answer text, or "
        f"no documents or tool results in their trace); {flagged} suspected hallucinations"
    )
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    p.add_argument("--labelled-only", action="store_true", help="only spans with an annotation or a check result")


@command(
    "export", "write an eval dataset (question, context, output, label, note, trace id) as JSON lines", _export_args
)
def _export(ns: argparse.Namespace) -> int:
    from ._dataset import write_jsonl

    store = Store(ns.db)
    progress = _ProgressBar("exporting")
    if ns.output == "-":
        count = write_jsonl(store, sys.stdout, labelled_only=ns.labelled_only, progress=progress)
    else:
        with open(ns.output, "w", encoding="utf-8") as out:
            count = write_jsonl(store, out, labelled_only=ns.labelled_only, progress=progress)
    print(f"{count} records written to {'standard output' if ns.output == '-' else ns.output}", file=sys.stderr)
    return 0


def _copy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from",
        dest="source",
        default=None,
        help="the store to copy, a DuckDB file path or a postgresql:// URL (default: --db / $SPYGLASS_DB)",
    )
    p.add_argument(
        "--to",
        dest="destination",
        required=True,
        help="the store to copy into, a DuckDB file path or a postgresql:// URL",
    )
    p.add_argument("--chunk", type=_positive, default=5_000, help="spans read and written at a time (default 5000)")
    p.add_argument(
        "--restart",
        action="store_true",
        help="look at every source span again instead of resuming where the last copy stopped (none is stored twice)",
    )


@command(
    "copy",
    "copy a store into another (DuckDB file <-> PostgreSQL, or file -> file); resumable, never twice",
    _copy_args,
)
def _copy(ns: argparse.Namespace) -> int:
    from .store._copy import copy_store

    source = ns.source or ns.db
    for db in (source, ns.destination):
        if is_postgres(db):
            _require("psycopg", "postgres", "a PostgreSQL store")
    result = copy_store(source, ns.destination, chunk=ns.chunk, restart=ns.restart, progress=_ProgressBar("copying"))
    rows = result.rows_added or {}
    resumed = f", resumed after source seq {result.resumed_after:,}" if result.resumed_after else ""
    print(
        f"copied {result.spans_copied + result.spans_spooled:,} spans from {result.source} to {result.destination} "
        f"({result.spans_present:,} already there{resumed}); added {rows.get('evaluations', 0):,} evaluations, "
        f"{rows.get('annotations', 0):,} annotations, {rows.get('dropped_spans', 0):,} dropped-span records"
    )
    if result.spans_dropped:
        print(f"spyglass: {result.spans_dropped:,} spans were refused by {result.destination}", file=sys.stderr)
    if not result.complete:
        print(
            f"spyglass: {result.destination} stayed busy: {result.spans_spooled:,} spans wait in its spool, "
            f"ingested by its next writer or `spyglass --db {result.destination} ingest`",
            file=sys.stderr,
        )
    return 0 if result.ok else 1


def version_text() -> str:
    """What a bug report needs: this release, the store schema it writes, the interpreter."""
    return f"spyglass {__version__} (store schema {SCHEMA_VERSION}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spyglass", description="Trace LLM applications into a store: a DuckDB file or a PostgreSQL server."
    )
    parser.add_argument("--db", default=None, help=f"{_STORE_HELP} (default: $SPYGLASS_DB or ./spyglass.duckdb)")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_args, _fn) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--db", default=argparse.SUPPRESS, help=_STORE_HELP)
        add_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    ns.db_given = ns.db is not None
    ns.db = ns.db or default_db_path()
    try:
        return COMMANDS[ns.command][2](ns)
    except StoreError as exc:  # a clear sentence, never a traceback, for a bad store
        print(f"spyglass: {' '.join(str(exc).split())}", file=sys.stderr)  # DuckDB's text may span lines
        return 2
    except MissingExtra as exc:
        print(f"spyglass: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `spyglass export | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
