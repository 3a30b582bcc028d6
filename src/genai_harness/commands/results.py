"""``genai-harness results``: read stores back (one or several machines), summarize, export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from genai_harness.analysis.assistant import ASSISTANT_HEADERS, assistant_scores, assistant_table
from genai_harness.analysis.keys import cell_label
from genai_harness.analysis.long_view import run_status
from genai_harness.analysis.summary import statistics_table, summary_table
from genai_harness.errors import StoreError
from genai_harness.results.export import check_export_path, export, stream_parquet
from genai_harness.results.query import ResultFilter
from genai_harness.results.schema import SOURCE_COLUMN
from genai_harness.results.store import iter_stores, load_results, mask_url, open_store, parse_store
from genai_harness.tables import format_table


def missing_cells(planned: Sequence[str], rows: Iterable[dict[str, Any]]) -> list[str]:
    """The planned cell labels that have no row (pure): what a run cut short never measured."""
    recorded = {cell_label(row) for row in rows}
    return [label for label in planned if label not in recorded]


def _planned(frame: Any, run_id: str, stores: Mapping[str, Any]) -> list[str]:
    """The cells recorded as planned for ``run_id`` in the store(s) its rows came from (``stores``: the opened
    stores by their location, the ``source_store`` of a row; a URL's location has no password to reopen it by)."""
    planned: list[str] = []
    for source in frame.loc[frame["run_id"] == run_id, SOURCE_COLUMN].dropna().unique():
        if source in stores:
            planned += [p for p in stores[source].planned_cells(run_id) if p not in planned]
    return planned


def run_state(frame: Any, run_id: str, stores: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``complete``, ``interrupted`` (a cell was cut short, none missing) or ``unfinished: N of M cells
    missing``, and the missing cell labels."""
    planned = _planned(frame, run_id, stores)
    rows = frame[frame["run_id"] == run_id]
    interrupted = bool((rows["status"] == "interrupted").any())
    if not planned:
        return ("interrupted" if interrupted else "no plan recorded"), []
    missing = missing_cells(planned, rows.to_dict("records"))
    if not missing:
        return ("interrupted" if interrupted else "complete"), []
    return f"unfinished: {len(missing)} of {len(planned)} cells missing", missing


def planned_runs(stores: Iterable[Any]) -> dict[str, tuple[str, list[str]]]:
    """Every run whose plan a store recorded: ``run_id -> (planned_at, planned cell labels)``, oldest first."""
    plans: dict[str, tuple[str, list[str]]] = {}
    for store in stores:  # opened stores
        for run_id, planned_at, _ in store.planned_runs():
            at, labels = plans.get(run_id, (planned_at, []))
            labels += [label for label in store.planned_cells(run_id) if label not in labels]
            plans[run_id] = (min(at, planned_at), labels)
    return plans


def _unmeasured(run_id: str, planned_at: str, labels: Sequence[str]) -> str:
    return (f"run {run_id} is unfinished: {len(labels)} of {len(labels)} cells missing (planned at {planned_at}; cut "
            "short during its first cell: killed, terminated, crashed or out of disk)")


def _last_run(frame: Any, plans: dict[str, tuple[str, list[str]]]) -> str | None:
    """The most recent run: the last one with rows, or a later one whose plan is recorded but that has none."""
    last = str(frame["run_id"].iloc[-1]) if len(frame) else None
    value = frame["run_started_at"].iloc[-1] if len(frame) else None
    started = value if isinstance(value, str) else ""  # a row without a start time: any plan is later
    for run_id, (planned_at, _) in plans.items():
        if run_id != last and (last is None or planned_at > started) and (frame["run_id"] != run_id).all():
            last, started = run_id, planned_at
    return last


def _run_list(frame: Any, plans: dict[str, tuple[str, list[str]]], opened: Mapping[str, Any]) -> str:
    """The table of runs: those with rows, and those whose plan is recorded but that never wrote one. Failed and
    skipped cells are counted apart, as the report counts them: a skipped cell (it did not apply) is no failure."""
    listed: list[tuple[Any, ...]] = []
    if len(frame):
        jobs = frame["job_id"] if "job_id" in frame.columns else None  # the CI job a run belongs to (schema 7)
        runs = (frame.assign(job_id=jobs).groupby(["run_id", "hostname", "machine_fingerprint"], sort=False,
                                                  dropna=False)
                .agg(started=("run_started_at", "first"), job=("job_id", "first"), rows=("status", "size"),
                     cells=("workload_id", "nunique"))
                .reset_index())
        status = run_status(frame).set_index("run_id")
        listed += [(r.run_id, r.hostname, r.machine_fingerprint, r.started, r.job if isinstance(r.job, str) else "-",
                    r.rows,
                    int(status.at[r.run_id, "failed"]), int(status.at[r.run_id, "skipped"]), r.cells,
                    run_state(frame, r.run_id, opened)[0]) for r in runs.itertuples()]
    with_rows = set(frame["run_id"].dropna().astype(str)) if len(frame) else set()
    empty = [(run_id, "-", "-", at, "-", 0, 0, 0, 0, f"unfinished: {len(labels)} of {len(labels)} cells missing")
             for run_id, (at, labels) in plans.items() if run_id not in with_rows]
    if empty:  # in time order among the others (a run killed in its first cell is usually the last)
        listed = sorted(listed + empty, key=lambda r: r[3] if isinstance(r[3], str) else "")
    return format_table(["run", "host", "machine", "started", "job", "rows", "failed cells", "skipped cells",
                         "workloads", "state"], listed)


def cmd_results(args: argparse.Namespace) -> int:
    """List the runs in the stores, summarize one, or export the merged rows."""
    if args.merge:
        return merge_stores(args)
    if args.migrate:
        return migrate_stores(args)
    if args.export:
        check_export_path(args.export)
    stores = [parse_store(s) for s in args.store or [None]]
    shown = ", ".join(mask_url(str(s)) for s in stores)
    if args.export and not args.run and str(args.export).lower().endswith(".parquet"):
        written = stream_parquet(iter_stores(stores), args.export)  # batch by batch: any size of store
        print(f"exported {written} rows to {args.export}", file=sys.stderr)
        return 0
    opened = _opened(stores)  # each store opened once for its plans and run states
    plans = planned_runs(opened.values())  # a run killed in its first cell has a plan and no row: still listed
    if args.run:  # the run is selected inside the query, never by loading the whole store
        run_id: str | None = args.run
        if args.run == "last":
            run_id = _last_run(load_results(stores, columns=["run_id", "run_started_at"]), plans)
            if run_id is None:
                raise StoreError(f"no results in {shown}; run `genai-harness run` first")
        frame = load_results(stores, ResultFilter(run_ids=run_id))
        if not len(frame) and run_id in plans:
            planned_at, labels = plans[str(run_id)]
            if args.export or args.json or args.stats or args.coverage:
                raise StoreError(f"{_unmeasured(str(run_id), planned_at, labels)}; it wrote no row, so there is "
                                 "nothing to export or summarize")
            print(f"{_unmeasured(str(run_id), planned_at, labels)}:")
            for label in labels:
                print(f"  not measured: {label}")
            return 0
        if not len(frame):
            raise StoreError(f"no run {args.run!r} in {shown}; `genai-harness results` lists the runs")
    else:
        frame = load_results(stores)
        if not len(frame) and (not plans or args.export or args.json or args.stats or args.coverage):
            raise StoreError(f"no results in {shown}; run `genai-harness run` first")
    if args.export:
        export(frame, args.export)
        print(f"exported {len(frame)} rows to {args.export}", file=sys.stderr)
    if args.coverage:
        from genai_harness.analysis.coverage import coverage_matrix  # pandas at import: keep the CLI start light
        from genai_harness.analysis.export_matrix import export_matrix, export_table  # pandas at import, as above

        matrix, exports = coverage_matrix(frame), export_matrix(frame)
        if matrix.empty and exports.empty:
            raise StoreError("no operator cells nor export cells in the selected rows; run `genai-harness run --suite "
                             "attention` or `--suite exports --model FAMILY` first, or pick such a run with --run")
        if not matrix.empty:
            print(matrix.to_string())
        if not exports.empty:
            print(("\n" if not matrix.empty else "") + "export matrix (export x runtime/EP):")
            print(exports.to_string())
            print("\nper export and target (medians; agreement with the float32 checkpoint's reference):")
            print(export_table(frame).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    elif args.stats:
        print(statistics_table(frame, args.metric))
    elif args.json:
        print(frame.to_json(orient="records", indent=2, date_format="iso"))
    elif args.run:
        records = frame.to_dict("records")
        print(summary_table(records))
        scores = assistant_scores(records)
        if scores:
            print("\nclient assistant score (MLPerf Client categories; geometric mean over categories of the "
                  "median TTFT and of the median decode rate):")
            print(format_table(list(ASSISTANT_HEADERS), assistant_table(scores)))
        state, missing = run_state(frame, str(frame["run_id"].iloc[-1]), opened)
        if missing:
            print(f"run {frame['run_id'].iloc[-1]} is {state} (cut short: killed, terminated or crashed):")
            for label in missing:
                print(f"  not measured: {label}")
    else:
        print(_run_list(frame, plans, opened))
    return 0


def _opened(stores: Sequence[Any]) -> dict[str, Any]:
    """The stores ``stores`` names, opened for reading, by location (what a row's ``source_store`` says)."""
    return {store.location: store for store in iter_stores(stores)}


def merge_stores(args: argparse.Namespace) -> int:
    """``results --merge SRC ... --store DEST``: copy every row of SRC into DEST, each row once."""
    if not args.store or len(args.store) != 1:
        raise StoreError("results --merge needs exactly one --store to merge into (a .sqlite path or a "
                         "postgresql:// URL)")
    sources = list(iter_stores(args.merge))  # every source checked (read-only) before the target is touched
    target = open_store(args.store[0], migrate=True)
    for source in sources:
        written = target.merge_from(source)
        print(f"merged {source.location} into {target.location}: {written} new row(s) of {source.count()}",
              file=sys.stderr)
    return 0


def migrate_stores(args: argparse.Namespace) -> int:
    """``results --migrate --store S ...``: upgrade each store in place to the schema this harness writes."""
    if not args.store:
        raise StoreError("results --migrate needs the store(s) to upgrade: --store PATH or --store postgresql://...")
    for spec in args.store:
        before = open_store(spec, create=False).schema_version
        store = open_store(spec, create=False, migrate=True)
        state = "already at" if before == store.schema_version else f"upgraded from schema version {before} to"
        print(f"{store.location}: {state} schema version {store.schema_version} ({store.count()} rows)",
              file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("results", help="list stored runs, summarize one, export or merge stores")
    p.add_argument("--store", action="append",
                   help="a store file, folder of stores or postgresql:// URL (repeatable: merges machines; "
                        "default $GENAI_HARNESS_STORE or results/genai-harness.sqlite)")
    p.add_argument("--merge", action="append", metavar="SOURCE",
                   help="copy the rows of SOURCE (file, folder or URL; repeatable) into the one --store, "
                        "each row once however often it is merged")
    p.add_argument("--migrate", action="store_true",
                   help="upgrade each --store in place to the schema this genai-harness writes (rows kept)")
    p.add_argument("--run", help="a run id, or 'last', to summarize or export")
    p.add_argument("--export", help="write the rows to a .parquet or .csv file")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--stats", action="store_true",
                   help="per cell and metric: n, median, p90, p99 and the median's 95%% bootstrap interval")
    p.add_argument("--coverage", action="store_true",
                   help="operator cells: the matrix of operator variant x runtime/EP "
                        "(ok, wrong result, not supported, crashed); export cells (`run --suite exports`): the "
                        "matrix of export x runtime/EP with agreement, speed, size and op census per cell")
    p.add_argument("--metric", action="append", help="with --stats: only this metric (repeatable)")
    p.set_defaults(handler=cmd_results)
