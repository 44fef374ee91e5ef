"""Label files: JSON, CSV and JAMS (for mir_eval and other MIR tools), written atomically.

Every format names each track by content hash and path, so an import into another library
matches tracks by their contents. JSON and CSV carry every field of a label; JAMS carries the
intervals in seconds (namespace ``segment_open``) and keeps the beat indices, sources and
times in the annotation's sandbox.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from workbench.fileio import atomic_write, atomic_write_bytes
from workbench.labels.core import Label, LabelError, LabelRowsError
from workbench.library import Track
from workbench.store import utc_now
from workbench.validate import check_choice

FORMATS: tuple[str, ...] = ("json", "csv", "jams")
FILE_FORMAT = "workbench-labels"
FILE_VERSION = 1
CSV_COLUMNS: tuple[str, ...] = ("content_hash", "path", "track_id", "label", "start_beat", "end_beat", "start_s",
                                "end_s", "source", "confidence", "created_at", "updated_at")
JAMS_NAMESPACE = "segment_open"

Group = tuple[Track, float, list[Label]]  # a track, its duration in seconds, its labels by start


@dataclass(frozen=True)
class Entry:
    """One label read from a file; ``where`` says where it was (``"row 3"``, ``"a.jams #2"``)."""

    where: str
    content_hash: str | None
    path: str | None
    label: object
    start_beat: int | None
    end_beat: int | None
    start_s: float | None
    end_s: float | None
    source: str | None
    confidence: float | None


def format_of(path: str | os.PathLike[str], format: str | None, *, reading: bool = False) -> str:
    """The format named, else the one of the suffix (a folder means JAMS).

    Parameters
    ----------
    path : str or os.PathLike
        The file or folder.
    format : {"json", "csv", "jams"} or None
        None: from the suffix.
    reading : bool
        Whether the path is to be read: then ``.tsv`` and ``.txt`` (a spreadsheet's tab-separated
        "Unicode Text") mean CSV too, its delimiter found from its header.

    Raises
    ------
    LabelError
        Unknown format, or a path whose suffix names none.
    """
    if format is not None:
        return check_choice("format", format, FORMATS, quote=False, error=LabelError)
    p = Path(path)
    suffix = p.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if reading and suffix in ("tsv", "txt"):  # tab-separated: read as CSV with the delimiter its header shows
        return "csv"
    if p.is_dir():
        return "jams"
    raise LabelError(f"cannot tell the format of {os.fspath(path)!r}: use a .json, .csv or .jams suffix "
                     + ("(.tsv or .txt: tab-separated CSV) " if reading else "")
                     + f"(or a folder for JAMS), or name the format (--format; format= in Python): "
                     f"one of {', '.join(FORMATS)}")


def _label_dict(lab: Label) -> dict:
    return {"label": lab.label, "start_beat": lab.start_beat, "end_beat": lab.end_beat,
            "start_s": round(lab.start_s, 6), "end_s": round(lab.end_s, 6), "source": lab.source,
            "confidence": lab.confidence, "created_at": lab.created_at, "updated_at": lab.updated_at}


# -- writing ---------------------------------------------------------------------------------
def write(path: Path, fmt: str, groups: list[Group]) -> Path:
    """Write ``groups`` to ``path`` in ``fmt``; returns the file or folder written.

    Parameters
    ----------
    path : Path
        The file, or for JAMS a folder (one file per track).
    fmt : {"json", "csv", "jams"}
        The format.
    groups : list of (Track, float, list of Label)
        Each track, its duration in seconds, and its labels.
    """
    if fmt == "json":
        doc = {"format": FILE_FORMAT, "version": FILE_VERSION, "exported_at": utc_now(),
               "tracks": [{"track_id": t.id, "content_hash": t.content_hash, "path": t.path, "name": t.name,
                           "duration_s": duration, "labels": [_label_dict(lab) for lab in labels]}
                          for t, duration, labels in groups]}
        return atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode())
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for t, _, labels in groups:
            for lab in labels:
                d = _label_dict(lab)
                w.writerow([t.content_hash, t.path, t.id] + ["" if d[c] is None else d[c] for c in CSV_COLUMNS[3:]])
        return atomic_write_bytes(path, buf.getvalue().encode())
    if path.suffix.lower() == ".jams":
        if len(groups) != 1:
            raise LabelError(f"a .jams file holds one track's labels; this export has {len(groups)} tracks: "
                             "export one track (`--track T` on the command line, tracks=[T] in Python), or give a "
                             "folder path (no .jams suffix) to write one .jams per track")
        _write_jams(path, *groups[0])
        return path
    path.mkdir(parents=True, exist_ok=True)
    for t, duration, labels in groups:
        _write_jams(path / f"{Path(t.path).stem}.{t.content_hash[:8]}.jams", t, duration, labels)
    return path


def _write_jams(path: Path, track: Track, duration_s: float, labels: list[Label]) -> None:
    import jams  # type: ignore[import-untyped]

    jam = jams.JAMS()
    jam.file_metadata.duration = duration_s
    jam.file_metadata.title = track.name
    jam.file_metadata.artist = track.artist or ""
    jam.sandbox.workbench = {"content_hash": track.content_hash, "path": track.path, "track_id": track.id}
    ann = jams.Annotation(namespace=JAMS_NAMESPACE, time=0, duration=duration_s)
    ann.annotation_metadata.data_source = "workbench section labels"
    ann.annotation_metadata.annotation_tools = "workbench"
    ordered = sorted(labels, key=lambda lab: lab.start_s)
    for lab in ordered:
        ann.append(time=lab.start_s, duration=lab.end_s - lab.start_s, value=lab.label, confidence=lab.confidence)
    ann.sandbox.workbench_labels = [_label_dict(lab) for lab in ordered]
    jam.annotations.append(ann)
    atomic_write(path, lambda tmp: jam.save(str(tmp), strict=True, fmt="jams"))


# -- reading ---------------------------------------------------------------------------------
def read(path: Path, fmt: str, problems: list[tuple[str, str]] | None = None) -> list[Entry]:
    """The labels of a file (or, for JAMS, a folder of ``.jams``); :class:`LabelError` when unreadable.

    Parameters
    ----------
    path : Path
        The file or folder.
    fmt : {"json", "csv", "jams"}
        The format.
    problems : list or None
        Where each bad entry's ``(where, what is wrong)`` goes (the entry is left out); None: a
        :class:`LabelRowsError` names every bad entry.
    """
    bad: list[tuple[str, str]] = [] if problems is None else problems
    found = _read(path, fmt, bad)
    if problems is None and bad:
        raise LabelRowsError(path, bad)
    return found


def _read(path: Path, fmt: str, bad: list[tuple[str, str]]) -> list[Entry]:
    if fmt == "jams":
        files = sorted(path.glob("*.jams")) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise LabelError(f"{path}: the folder holds no .jams files")
        return [e for f in files for e in _read_jams(f, bad)]
    text = _text_of(path)
    try:
        return _read_json(path, text, bad) if fmt == "json" else _read_csv(path, text, bad)
    except LabelError as exc:  # a bad cell: name the file too, and that nothing was imported
        said = str(exc)
        raise LabelError(said if said.startswith(str(path)) else f"{path}: {said}; nothing was imported") from None


def _text_of(path: Path) -> str:
    """The file's text: UTF-8, with or without the byte-order mark a spreadsheet writes, or UTF-16 with one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        why = "no such file" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
        raise LabelError(f"{path}: cannot read the label file: {why}; nothing was imported") from exc
    encoding = "UTF-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "UTF-8"  # by its byte-order mark
    save_as = "save it as UTF-8 (a spreadsheet's 'CSV UTF-8') and import again; nothing was imported"
    try:
        text = raw.decode("utf-16" if encoding == "UTF-16" else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not a text file in {encoding} (byte {exc.start}: "
                         f"{raw[exc.start:exc.start + 1]!r}); {save_as}") from None
    if "\x00" in text:  # UTF-16 without its mark, or not text at all: every cell would read as garbage
        raise LabelError(f"{path}: not a text file in {encoding} (a NUL character at character {text.index(chr(0))}: "
                         f"UTF-16 without a byte-order mark, or a binary file); {save_as}")
    return text


def _int(value: object, name: str, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LabelError(f"{where}: {name} must be an int; got {value!r}") from None
    if f != int(f):
        raise LabelError(f"{where}: {name} must be an int; got {value!r}")
    return int(f)


def _float(value: object, name: str, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LabelError(f"{where}: {name} must be a number; got {value!r}") from None


def _entry(d: dict, where: str, content_hash: object = None, path: object = None) -> Entry:
    if not isinstance(d, dict):
        raise LabelError(f"{where}: a label must be an object with label, start_beat, end_beat ...; got {d!r}")
    if "label" not in d:
        raise LabelError(f"{where}: the entry has no 'label' field")
    return Entry(where=where, content_hash=str(content_hash or d.get("content_hash") or "") or None,
                 path=str(path or d.get("path") or "") or None, label=d["label"],
                 start_beat=_int(d.get("start_beat"), "start_beat", where),
                 end_beat=_int(d.get("end_beat"), "end_beat", where),
                 start_s=_float(d.get("start_s"), "start_s", where), end_s=_float(d.get("end_s"), "end_s", where),
                 source=d.get("source") or None, confidence=_float(d.get("confidence"), "confidence", where))


def _entries(items: list[tuple[str, object, object, object]], bad: list[tuple[str, str]]) -> list[Entry]:
    """The entries of ``(where, dict, content_hash, path)`` items; each bad one goes to ``bad`` instead."""
    out = []
    for where, d, content_hash, track_path in items:
        try:
            out.append(_entry(d, where, content_hash, track_path))  # type: ignore[arg-type]
        except LabelError as exc:
            bad.append((where, str(exc)))
    return out


def _read_json(path: Path, text: str, bad: list[tuple[str, str]]) -> list[Entry]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{path}: not valid JSON ({exc}); nothing was imported") from exc
    if isinstance(doc, list):  # a plain list of labels, each naming its track
        return _entries([(f"entry {i}", d, None, None) for i, d in enumerate(doc)], bad)
    if not isinstance(doc, dict):
        raise LabelError(f"{path}: not a workbench label file (expected {{'format': '{FILE_FORMAT}', 'version': "
                         f"{FILE_VERSION}, 'tracks': [...]}} or a list of labels; got a JSON {type(doc).__name__}); "
                         "nothing was imported")
    wrong = []  # every whole-file problem at once
    if doc.get("format") != FILE_FORMAT:
        wrong.append(f"'format' must be {FILE_FORMAT!r}; got {doc.get('format')!r}")
    if doc.get("version") != FILE_VERSION:
        wrong.append(f"'version' must be {FILE_VERSION} (the version this workbench reads); got {doc.get('version')!r}")
    tracks = doc.get("tracks")
    if not isinstance(tracks, list):
        wrong.append(f"'tracks' must be a list of {{'content_hash' or 'path', 'labels': [...]}}; got {tracks!r:.60}")
    else:
        wrong += [f"tracks[{i}] must be an object with a 'labels' list; got {t!r:.60}" for i, t in enumerate(tracks)
                  if not isinstance(t, dict) or not isinstance(t.get("labels"), list)]
    if wrong:
        raise LabelError(f"{path}: not a workbench label file ({'; '.join(wrong)}); nothing was imported")
    out = []
    for i, t in enumerate(tracks):
        out += _entries([(f"tracks[{i}].labels[{j}]", d, t.get("content_hash"), t.get("path"))
                         for j, d in enumerate(t["labels"])], bad)
    return out


#: Delimiters a label table may use: a CSV's comma, the tab of a spreadsheet's "Unicode Text" (UTF-16,
#: tab-separated), the semicolon of a spreadsheet set to a decimal comma.
DELIMITERS = (",", "\t", ";")


def csv_delimiter(text: str) -> str:
    """The delimiter of a label table: the one of :data:`DELIMITERS` that splits its header into a
    ``label`` column (the most columns among several); a comma when none does (the header's error says why).

    Parameters
    ----------
    text : str
        The file's text.

    Returns
    -------
    str
        One of :data:`DELIMITERS`.
    """
    first = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    fits = []
    for delimiter in DELIMITERS:
        try:
            names = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter), [])]
        except csv.Error:
            continue
        if "label" in names:
            fits.append((len(names), delimiter))
    return max(fits, key=lambda f: f[0])[1] if fits else ","


def _read_csv(path: Path, text: str, bad: list[tuple[str, str]]) -> list[Entry]:
    try:
        reader = csv.reader(io.StringIO(text), delimiter=csv_delimiter(text))
        header = next(reader, None)
        rows = list(reader)
    except csv.Error as exc:
        raise LabelError(f"{path}: not a readable CSV file ({exc}); nothing was imported") from exc
    if header is None:
        return []
    names = [h.strip().lower() for h in header]  # "Label", " start_beat": the column a person meant
    _check_csv_header(path, header, names)
    return _entries([(f"row {i + 2}", dict(zip(names, r, strict=False)), None, None) for i, r in enumerate(rows) if any(r)], bad)


def _check_csv_header(path: Path, header: list[str], names: list[str]) -> None:
    """Every problem of a label CSV's header in one :class:`LabelError` (none: returns)."""
    have = set(names)
    wrong = []
    if "label" not in have:
        wrong.append("no 'label' column")
    if not {"content_hash", "path"} & have:
        wrong.append("no 'content_hash' or 'path' column to find each track by"
                     + (" ('track_id' alone is not enough: ids differ between libraries)" if "track_id" in have else ""))
    if not ({"start_beat", "end_beat"} <= have or {"start_s", "end_s"} <= have):
        halves = [f"'{a}' without '{b}'" for pair in (("start_beat", "end_beat"), ("start_s", "end_s"))
                  for a, b in (pair, pair[::-1]) if a in have and b not in have]
        wrong.append("; ".join(halves) if halves else "no 'start_beat' and 'end_beat' (or 'start_s' and 'end_s') columns")
    twice = sorted({n for n in names if names.count(n) > 1 and n})
    if twice:
        wrong.append(f"columns named twice: {', '.join(twice)}")
    if wrong:
        other = [h for h, n in zip(header, names, strict=True) if n not in CSV_COLUMNS]
        raise LabelError(f"{path}: the CSV header cannot be imported: " + "; ".join(wrong)
                         + (f"; columns not used: {', '.join(map(repr, other))}" if other else "")
                         + f" (a label CSV's columns: {', '.join(CSV_COLUMNS)}); nothing was imported")


def _read_jams(path: Path, bad: list[tuple[str, str]]) -> list[Entry]:
    import jams  # type: ignore[import-untyped]

    try:
        jam = jams.load(str(path), validate=True, strict=False, fmt="jams")
    except Exception as exc:  # jams raises JSON, schema and its own errors alike
        raise LabelError(f"{path}: not a readable JAMS file ({type(exc).__name__}: {exc}); nothing was imported") \
            from exc
    wb = getattr(jam.sandbox, "workbench", None)
    wb = wb if isinstance(wb, dict) else {}
    content_hash, track_path = wb.get("content_hash"), wb.get("path")
    items: list[tuple[str, object, object, object]] = []
    for k, ann in enumerate(jam.annotations.search(namespace=JAMS_NAMESPACE)):
        extra = getattr(ann.sandbox, "workbench_labels", None)
        obs = list(ann.data)
        if not isinstance(extra, list) or len(extra) != len(obs):
            extra = [{}] * len(obs)
        for i, (o, x) in enumerate(zip(obs, extra, strict=True)):
            d = {"label": o.value, "start_s": o.time, "end_s": o.time + o.duration, "confidence": o.confidence,
                 **{key: x.get(key) for key in ("start_beat", "end_beat", "source") if isinstance(x, dict)}}
            items.append((f"{path.name} annotation {k} observation {i}", d, content_hash, track_path))
    return _entries(items, bad)
