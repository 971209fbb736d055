"""A text column as NumPy holds it cheaply: one small integer code per row into a category list.

A million rows of a five-word column are four megabytes of codes and five strings, instead of a
million Python objects. `Categorical` behaves like the 1-D object array it stands for where the
rest of the code looks (len, indexing by rows, tolist, dtype object, missing as None), and lets
the feature rule and column typing work on the codes and on the categories only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MISSING_CODE = -1


class Categorical:
    """Codes: (rows,) int32 into `categories` (text, bools or numbers), -1 where missing."""

    __slots__ = ("codes", "categories")
    ndim = 1
    dtype = np.dtype(object)  # not numbers, as an object column of text would be

    def __init__(self, codes: np.ndarray, categories: Sequence) -> None:
        self.codes = np.asarray(codes, dtype=np.int32)
        self.categories = list(categories)
        if self.codes.ndim != 1:
            raise ValueError("codes must be one-dimensional")

    @classmethod
    def from_values(cls, values: Sequence) -> Categorical:
        """Encode Python values (None is missing); categories in order of first appearance."""
        index: dict[tuple, int] = {}
        categories: list = []

        def code(value) -> int:
            if value is None:
                return MISSING_CODE
            key = (type(value), value)  # True, 1 and "1" are different categories
            found = index.get(key)
            if found is None:
                found = index[key] = len(categories)
                categories.append(value)
            return found

        codes = np.fromiter(map(code, values), dtype=np.int32, count=len(values))
        return cls(codes, categories)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def shape(self) -> tuple[int]:
        return self.codes.shape

    def __getitem__(self, rows):
        """One row's value, or the column at rows (an index array, mask or slice)."""
        picked = self.codes[rows]
        if np.ndim(picked) == 0:
            return None if picked < 0 else self.categories[int(picked)]
        return Categorical(picked, self.categories)

    def missing(self) -> np.ndarray:
        return self.codes < 0

    def counts(self) -> np.ndarray:
        """Return the number of rows holding each category: (len(categories),)."""
        present = self.codes[self.codes >= 0]
        return np.bincount(present, minlength=len(self.categories))

    def lookup(self) -> np.ndarray:
        """Return the categories as an object array with None appended (index -1 reads it)."""
        table = np.empty(len(self.categories) + 1, dtype=object)
        table[:-1] = self.categories
        return table

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self.lookup()[self.codes]
        return values if dtype is None else values.astype(dtype)

    def tolist(self) -> list:
        return self.lookup()[self.codes].tolist()

    def __iter__(self):
        return iter(self.tolist())

    def __repr__(self) -> str:
        return f"Categorical({len(self)} rows, {len(self.categories)} categories)"


def order(value) -> tuple:
    """Sort category values: numbers by value, then text, then booleans (False before True)."""
    if isinstance(value, bool):
        return (2, int(value), "")
    if isinstance(value, str):
        return (1, 0, value)
    return (0, value, "")
