"""Where a data file keeps each row's condition vector, from the spec a user gives: column indices
of a CSV or .npy ("6:10", "6,7,8", "-4:", "0,6:10:2"), or, starting with '/', an HDF5 dataset of
its own ("/cond") with one row per data row. Every refusal is a DataFileError naming the file."""

from __future__ import annotations

from gancore.data.checks import DataFileError

# A spec is short text; this bounds the work a hostile one (a config from a link) can ask for.
MAX_SPEC_CHARS = 200


def is_dataset_spec(spec: str) -> bool:
    """A condition stored as an HDF5 dataset of its own: dataset paths start with '/', column
    specs never do."""
    return spec.strip().startswith("/")


def condition_columns(name: str, spec: str, ncols: int) -> list[int]:
    """The 0-based column indices `spec` names in a file of `ncols` columns, in the order given.

    Python-like: "6:10" is columns 6-9, "-4:" the last four, "6,8" two columns; the items of a
    comma list may be slices. Unlike Python, a slice past the last column is refused rather than
    cut short, since it means the user has the file's layout wrong.
    """
    where = f"{name}: condition columns {spec.strip()[:MAX_SPEC_CHARS]!r}"
    if is_dataset_spec(spec):
        raise DataFileError(f"{where} name an HDF5 dataset, but this is not an HDF5 file; give "
                            "column indices such as 6:10 or 6,7,8")
    if len(spec) > MAX_SPEC_CHARS:
        raise DataFileError(f"{where}: longer than {MAX_SPEC_CHARS} characters")
    picked: list[int] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            raise DataFileError(f"{where}: an empty item; write indices like 6:10 or 6,7,8")
        cols = _slice(where, item, ncols) if ":" in item else [_index(where, item, ncols)]
        if not cols:
            raise DataFileError(f"{where}: '{item}' selects no column")
        picked += cols
    seen: set[int] = set()
    for c in picked:
        if c in seen:
            raise DataFileError(f"{where}: column {c} is named twice (the items overlap)")
        seen.add(c)
    if len(picked) >= ncols:
        raise DataFileError(f"{where}: take all {ncols} columns of the file, leaving none for "
                            "the data")
    return picked


def _int(where: str, text: str) -> int:
    text = text.strip()
    body = text[1:] if text[:1] in "+-" else text
    if not (body.isascii() and body.isdigit()):
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise DataFileError(f"{where}: '{shown}' is not a column index; write indices like 6:10 "
                            "or 6,7,8 (counting from 0)")
    return int(text)


def _out_of_range(where: str, what: str, ncols: int) -> DataFileError:
    return DataFileError(f"{where}: {what} is out of range; the file has {ncols} columns "
                         f"(0 to {ncols - 1}, or -{ncols} to -1 counting from the end)")


def _index(where: str, text: str, ncols: int) -> int:
    i = _int(where, text)
    if not -ncols <= i < ncols:
        raise _out_of_range(where, f"column {i}", ncols)
    return i % ncols


def _slice(where: str, text: str, ncols: int) -> list[int]:
    parts = text.split(":")
    if len(parts) > 3:
        raise DataFileError(f"{where}: '{text}' is not a slice; write start:stop or "
                            "start:stop:step")
    start = _int(where, parts[0]) if parts[0].strip() else 0
    stop = _int(where, parts[1]) if parts[1].strip() else ncols
    step = _int(where, parts[2]) if len(parts) == 3 and parts[2].strip() else 1
    if step < 1:
        raise DataFileError(f"{where}: the step of '{text}' must be 1 or more")
    for bound in (start, stop):
        if not -ncols <= bound <= ncols:  # Python would cut the slice short without a word
            raise _out_of_range(where, f"the slice '{text}'", ncols)
    start, stop = (b + ncols if b < 0 else b for b in (start, stop))
    return list(range(start, stop, step))
