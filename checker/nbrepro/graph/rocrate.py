"""`nbrepro export --format rocrate`: an RO-Crate 1.1 of one check.

The crate's folder holds `ro-crate-metadata.json` and, when the checked folder
is still on this machine, a copy of each notebook (so the crate is self-contained);
otherwise the notebooks are web-based entities named by their IRIs. It describes
the notebooks, the environment (Python, installed packages), nbrepro, one
`CreateAction` per notebook run with its verdict, and the check as a whole.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from nbrepro.errors import InputError
from nbrepro.graph import identifiers as ids
from nbrepro.graph import source
from nbrepro.store import Store

CONTEXT = "https://w3id.org/ro/crate/1.1/context"
PROFILE = "https://w3id.org/ro/crate/1.1"
METADATA = "ro-crate-metadata.json"
IPYNB = "application/x-ipynb+json"
MAX_COPY = 100 * 1024 * 1024  # a notebook larger than this is referenced, not copied
_STATUS = {True: "http://schema.org/CompletedActionStatus",
           False: "http://schema.org/FailedActionStatus"}


def write_crate(
    store: Store, output: str | None, audit: str | None = None, check_id: int | None = None
) -> Path:
    results = source.read(store, audit=audit, check_id=check_id)
    if len(results.checks) != 1:
        if not results.checks:
            raise InputError("no check to put in an RO-Crate")
        ids_known = ", ".join(str(c.id) for c in results.checks[-20:])
        raise InputError(f"an RO-Crate describes one check: pick one with --check ID "
                         f"(the newest: {ids_known})")
    folder = Path(output or ".").expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    if not folder.parent.is_dir():
        raise InputError(f"folder does not exist: {folder.parent}")
    folder.mkdir(exist_ok=True)
    check = results.checks[0]
    crate = crate_metadata(check, folder)
    partial = folder / (METADATA + ".part")
    partial.write_text(json.dumps(crate, indent=2, ensure_ascii=False), encoding="utf-8")
    partial.replace(folder / METADATA)
    return folder


def _copy_notebook(check: source.Check, path: str, folder: Path) -> str | None:
    """Copy one notebook from the checked folder into the crate; the relative path
    it has there, or None when it cannot be copied safely. The stored path and the
    folder's files are the audited repository's: a path that climbs out, a symlink
    or anything but a regular file is not followed."""
    if not check.path:
        return None
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        return None
    root = Path(check.path)
    current = root
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            return None
    try:
        if not current.is_file() or current.stat().st_size > MAX_COPY:
            return None
        if not current.resolve().is_relative_to(root.resolve()):
            return None
    except OSError:
        return None
    target = folder.joinpath(*rel.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(current, target, follow_symlinks=False)
    # A data entity's @id is a URI path: a name with spaces, '#' or '%' is escaped.
    return quote(rel.as_posix(), safe="/")


def _iso(value: datetime | None) -> str:
    moment = value or datetime.now(timezone.utc).replace(tzinfo=None)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def crate_metadata(check: source.Check, folder: Path) -> dict[str, Any]:
    from nbrepro.stages.resolve import parse_pins

    repo_iri = ids.repository(check.source, check.path)
    commit_iri = ids.commit(repo_iri, check.commit)
    version = check.nbrepro_version or "unknown"
    tool = {"@id": "#nbrepro", "@type": "SoftwareApplication", "name": "nbrepro",
            "version": version, "description": "Notebook reproducibility checker"}
    graph: list[dict[str, Any]] = [
        {"@id": METADATA, "@type": "CreativeWork", "conformsTo": {"@id": PROFILE},
         "about": {"@id": "./"}},
    ]
    parts: list[dict[str, str]] = []
    entities: list[dict[str, Any]] = [tool]
    actions: list[dict[str, str]] = []
    instrument = [{"@id": "#nbrepro"}]
    env = check.environment
    if env is not None:
        packages = []
        for name, pinned in sorted(parse_pins(env.lock or "").items()):
            pid = ids.package_version(name, pinned)
            packages.append({"@id": pid})
            entities.append({"@id": pid, "@type": "SoftwareApplication", "name": name,
                             "version": pinned, "url": pid})
        environment: dict[str, Any] = {
            "@id": "#environment", "@type": "SoftwareApplication",
            "name": f"environment ({env.backend or 'unknown backend'})",
            "description": ("built" if env.ok else "could not be built")
            + (f"; declared in {', '.join(env.declared_files)}" if env.declared_files
               else "; nothing declared")
            + (f"; failed requirement: {env.failed_requirement}"
               if env.failed_requirement else ""),
            "softwareRequirements": packages,
        }
        if env.python_version:
            entities.append({"@id": "#python", "@type": "ComputerLanguage", "name": "Python",
                             "version": env.python_version,
                             "url": {"@id": "https://www.python.org/"}})
            environment["runtimePlatform"] = f"Python {env.python_version}"
        entities.append(environment)
        instrument.append({"@id": "#environment"})
    for n, nb in enumerate(check.notebooks):
        local = _copy_notebook(check, nb.path, folder)
        nb_id = local or ids.notebook(commit_iri, nb.path)
        entity: dict[str, Any] = {"@id": nb_id, "@type": ["File", "SoftwareSourceCode"],
                                  "name": nb.path, "encodingFormat": IPYNB,
                                  "identifier": ids.notebook(commit_iri, nb.path)}
        if env is not None and env.python_version:
            entity["programmingLanguage"] = {"@id": "#python"}
        entities.append(entity)
        parts.append({"@id": nb_id})
        if nb.run is None:
            continue
        r = nb.run
        action: dict[str, Any] = {
            "@id": f"#run-{n}", "@type": "CreateAction",
            "name": f"Re-run of {nb.path}: {r.verdict}",
            "instrument": instrument, "object": {"@id": nb_id},
            "result": {"@id": f"#verdict-{n}"},
            "actionStatus": {"@id": _STATUS[r.verdict in ("reproduced",
                                                           "reproduced-equivalent")]},
            "endTime": _iso(r.finished_at),
        }
        if r.exception:
            action["error"] = f"{r.exception}: {r.message or ''}".strip(": ")
        entities.append(action)
        verdict: dict[str, Any] = {"@id": f"#verdict-{n}", "@type": "PropertyValue",
                                   "name": "verdict", "value": r.verdict}
        if r.reason:
            verdict["description"] = r.reason
        entities.append(verdict)
        actions.append({"@id": f"#run-{n}"})
    check_action: dict[str, Any] = {
        "@id": "#check", "@type": "CreateAction",
        "name": f"nbrepro check of {check.source}", "instrument": instrument,
        "object": parts, "actionStatus": {"@id": _STATUS[check.verdict in (
            "reproduced", "reproduced-equivalent")]},
        "result": {"@id": "#verdict"},
        "endTime": _iso(check.finished_at),
    }
    if check.started_at:
        check_action["startTime"] = _iso(check.started_at)
    entities.append(check_action)
    entities.append({"@id": "#verdict", "@type": "PropertyValue", "name": "verdict",
                     "value": check.verdict or check.state})
    root: dict[str, Any] = {
        "@id": "./", "@type": "Dataset",
        "name": f"Reproducibility check of {check.source}",
        "description": (f"nbrepro re-ran the {len(check.notebooks)} notebook(s) of "
                        f"{check.source}" + (f" at commit {check.commit}" if check.commit
                                             else "")
                        + f" and compared their outputs: {check.verdict or check.state}."),
        "datePublished": _iso(check.finished_at or check.created_at),
        "hasPart": parts, "mentions": [{"@id": "#check"}, *actions],
        "identifier": ids.check(commit_iri, check.id, check.created_at),
    }
    location = ids.web_location(check.source)
    if location:
        root["isBasedOn"] = {"@id": location}
        entities.append({"@id": location, "@type": "SoftwareSourceCode", "name": check.source,
                         "codeRepository": location,
                         **({"version": check.commit} if check.commit else {})})
    licence = ids.license_iri(check.meta.license) if check.meta and check.meta.license else None
    if licence and check.meta and check.meta.license:
        root["license"] = {"@id": licence}
        entities.append({"@id": licence, "@type": "CreativeWork",
                         "name": check.meta.license, "identifier": check.meta.license})
    else:
        # RO-Crate asks for a licence; where none is known, say so in words.
        root["license"] = ("No licence known to nbrepro: the notebooks are under the terms "
                           "of their repository.")
    graph.append(root)
    graph.extend(entities)
    return {"@context": CONTEXT, "@graph": graph}
