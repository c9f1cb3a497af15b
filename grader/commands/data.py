"""`grader data`: what datasets are on disk, and preparing them from the
archives a course hands out. Nothing is ever downloaded.

Only typer, rich and the standard library are imported at module level; the
loaders (NumPy, Pillow) are imported inside the commands.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import typer

app = typer.Typer(help="Find, verify and prepare the datasets the accuracy checks use.",
                  no_args_is_help=True)


def _console(stderr: bool = False):
    # rich is imported on use: every `grader` start-up registers this verb.
    from rich.console import Console

    # soft_wrap: messages carry paths and commands that must survive copy and paste.
    return Console(stderr=stderr, soft_wrap=True)

ZipOption = typer.Option(None, "--zip", help="kagglecatsanddogs_3367a.zip (cats-dogs)")
TarOption = typer.Option(None, "--tar", help="cifar-10-python.tar.gz (cifar10)")
DataDirOption = typer.Option(
    None, "--data-dir",
    help="Look here first (then $GRADER_DATA, ~/.keras/datasets, /usr/share/datasets).",
)


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def status_rows(data_dir: str | None, verify: bool = True) -> list[dict]:
    """One row per dataset: where it is, sizes, checksum state, how to prepare it."""
    from grader.data import SOURCES, search_roots

    roots = search_roots(data_dir)
    rows = []
    for name, src in SOURCES.items():
        row = {"dataset": name, "description": src.description, "found": False,
               "path": None, "layout": None, "bytes": None, "samples": None,
               "checksum": None, "checksum_detail": None, "prepare": src.prepare}
        found = src.find(roots)
        if found is not None:
            row.update(found=True, path=str(found.path), layout=found.layout,
                       bytes=found.size_bytes())
            try:
                row["samples"] = src.counts(found)
                if verify:
                    v = src.verify(found)
                    row["checksum"], row["checksum_detail"] = v.state, v.detail
            except Exception as err:  # a damaged dataset is reported, not a crash
                row["checksum"], row["checksum_detail"] = "error", str(err)
        rows.append(row)
    return rows


@app.command()
def status(
    data_dir: str = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip checksums (faster)."),
) -> None:
    """A table of every dataset: found where, sizes, checksums, how to prepare it."""
    given = Path(data_dir).expanduser() if data_dir else None
    if given and not given.is_dir():  # else the other roots would answer silently
        _console(stderr=True).print(
            f"warning: --data-dir {data_dir} "
            f"{'is not a folder' if given.exists() else 'does not exist'}; searching only "
            "$GRADER_DATA, the Keras cache and the system locations",
            markup=False, highlight=False)
    rows = status_rows(data_dir, verify=not no_verify)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="Datasets (nothing is downloaded; a missing one skips its checks)")
    table.add_column("dataset", no_wrap=True)
    table.add_column("size, samples", ratio=1)
    table.add_column("checksum", overflow="fold", ratio=2)
    style = {"verified": "green", "mismatch": "red", "error": "red", "unchecked": "yellow"}
    # Paths and prepare commands go under the table, one whole line each: a table
    # cell would break them mid-word at 80 columns, and they are there to be copied.
    where = []
    for r in rows:
        if r["found"]:
            samples = ", ".join(f"{k} {v:,}" for k, v in (r["samples"] or {}).items())
            state = r["checksum"] or "not checked"
            check = f"[{style.get(state, 'white')}]{state}[/]"
            if r["checksum_detail"]:
                check += f": {r['checksum_detail']}"
            table.add_row(r["dataset"], f"{_human(r['bytes'])}; {samples}", check)
            where.append(f"{r['dataset']} found at {r['path']}")
        else:
            table.add_row(r["dataset"], "", "[red]missing[/]")
            where.append(f"{r['dataset']} missing; to prepare: {r['prepare']}")
    console = _console()
    console.print(table)
    for line in where:
        console.print(line, markup=False, highlight=False)


@contextmanager
def _progress(description: str):
    """A progress callback ``(done, total)`` whose bar appears on its first call, so a
    failure before any work (an unwritable --data-dir) prints its one line alone."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=_console(stderr=True), transient=False)
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.start()  # a no-op once started
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:  # stop() prints a line even for a bar never shown
            bar.stop()


@app.command()
def prepare(
    dataset: str = typer.Argument(..., help="cats-dogs or cifar10"),
    zip_path: Path = ZipOption,
    tar_path: Path = TarOption,
    data_dir: str = typer.Option(
        None, "--data-dir",
        help="Write here (default: $GRADER_DATA, else ~/.keras/datasets)."),
    seed: int = typer.Option(1337, help="Seed of the cats-dogs sample (cats-dogs)."),
    split: str = typer.Option("1000,500,500",
                              help="Images per class for train,validation,test (cats-dogs)."),
) -> None:
    """Prepare a dataset from the archive a course hands out."""
    from grader.data.dataset import DatasetCorrupt
    from grader.data.locations import prepare_root

    out_root = prepare_root(data_dir)
    try:
        if dataset == "cats-dogs":
            if zip_path is None:
                raise typer.BadParameter("cats-dogs needs --zip kagglecatsanddogs_3367a.zip")
            try:
                sizes = tuple(int(s) for s in split.split(","))
                assert len(sizes) == 3 and min(sizes) > 0
            except (ValueError, AssertionError):
                raise typer.BadParameter(
                    f"--split {split!r}: give three positive counts, e.g. 1000,500,500"
                ) from None
            if not zip_path.is_file():
                raise FileNotFoundError(f"{zip_path}: no such file (the Kaggle cats-and-dogs zip)")
            from grader.data.cats_dogs import prepare_cats_dogs

            with _progress("screening JPEGs") as progress:
                manifest = prepare_cats_dogs(zip_path, out_root, split=sizes, seed=seed,
                                             progress=progress)
            skipped = manifest["skipped"]
            _console().print(
                f"cats-dogs: scanned {manifest['scanned']} images in {zip_path.name}; skipped "
                f"{skipped['corrupt']} corrupt and {skipped['non-jpeg']} non-JPEG files; "
                f"wrote {len(manifest['files'])} images "
                f"({', '.join(f'{k} {v}+{v}' for k, v in manifest['split'].items())} cats+dogs, "
                f"seed {manifest['seed']}) to {manifest['path']}")
        elif dataset == "cifar10":
            if tar_path is None:
                raise typer.BadParameter("cifar10 needs --tar cifar-10-python.tar.gz")
            from grader.data.cifar10 import prepare_cifar10

            manifest = prepare_cifar10(tar_path, out_root)
            note = ("matches the official release" if manifest["source_verified"] else
                    "[yellow]does NOT match the official release's sha256[/]")
            _console().print(f"cifar10: extracted {len(manifest['files'])} files to "
                          f"{manifest['path']}; {tar_path.name} {note}")
        else:
            raise typer.BadParameter(
                f"{dataset!r}: prepare knows cats-dogs and cifar10; fashion-mnist comes from "
                "apt-get install dataset-fashion-mnist; mnist and chest-xray are copied as "
                "they are")
    except (FileNotFoundError, DatasetCorrupt) as err:
        _fail(dataset, str(err))
    except OSError as err:  # a --data-dir that is a file, or not writable; the archive unreadable
        # The prepare functions remove their partial folder before re-raising.
        path = err.filename or out_root
        if Path(path) in (zip_path, tar_path):
            _fail(dataset, f"cannot read {path} ({err.strerror}); check the archive's path "
                  "and permissions")
        _fail(dataset, f"cannot write {path} ({err.strerror}); give --data-dir a folder you "
              "can write to")


def _fail(dataset: str, message: str) -> None:
    from rich.markup import escape

    _console(stderr=True).print(f"[red]grader data prepare {dataset}:[/] {escape(message)}")
    raise typer.Exit(2)
