"""``edgedigits formats``: every target of the format table and what this machine can do with it, read
without importing any exporter or runtime (so a bare device sees what it can run)."""

from __future__ import annotations

import json

from edgedigits.core.registry import FORMATS, Format
from edgedigits.core.tables import Row, Table

CORE = "core"  # a runtime that comes with the core install


def _runtime_cells(fmt: Format) -> tuple[str, str, list[str]]:
    """(runtimes, their pip extras, what is missing here) of one row."""
    extras = dict.fromkeys(CORE if r.needs is None else r.needs.extra or "C compiler" for r in fmt.consumers)
    missing = [f"{r.name}: {m}" for r in fmt.consumers if (m := r.missing())]
    return ", ".join(r.name for r in fmt.consumers), ", ".join(extras), missing


def table() -> Table:
    out = Table(("format", "files", "dtype", "runs on", "runtimes", "extra", "export", "run"))
    for fmt in FORMATS:
        runtimes, extras, missing = _runtime_cells(fmt)
        export_missing = fmt.export_missing()
        runnable = len(missing) < len(fmt.consumers)
        out.rows.append(
            Row(
                (
                    fmt.name,
                    " + ".join(fmt.files),
                    "int8" if fmt.int8 else "float32",
                    fmt.runs_on,
                    runtimes,
                    extras,
                    "yes" if export_missing is None else "no",
                    "yes" if not missing else "partly" if runnable else "no",
                ),
                "pass" if runnable else "skip",
                tuple(missing) + ((f"export: {export_missing}",) if export_missing else ()),
            )
        )
    runnable = sum(r.status == "pass" for r in out.rows)
    out.footer.append(("pass" if runnable else "skip", f"{runnable} of {len(FORMATS)} targets run here"))
    return out


def to_json() -> str:
    rows = []
    for fmt in FORMATS:
        rows.append(
            {
                "format": fmt.name,
                "files": list(fmt.files),
                "dtype": "int8" if fmt.int8 else "float32",
                "built_from": list(fmt.built_from),
                "runs_on": fmt.runs_on,
                "rule": fmt.rule.describe(),
                "export_missing": fmt.export_missing(),
                "runtimes": [
                    {
                        "name": r.name,
                        "backend": r.backend,
                        "extra": r.needs.extra if r.needs else None,
                        "missing": r.missing(),
                    }
                    for r in fmt.consumers
                ],
            }
        )
    return json.dumps({"formats": rows}, indent=2)
