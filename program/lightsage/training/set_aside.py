"""Feature rows set aside while boosting needs the memory: in an unnamed temporary file, read back once.

The validation rows' features are computed before boosting, so that a bad value in the validation channel
stops the job before the trees are grown, but they are only needed once boosting is done. Held in the job's
memory they add to its peak; in a file they sit in the page cache, which the system can drop when memory runs
short, while the job's own memory it cannot. Where no temporary file can be written, they stay in memory.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from typing import IO

import numpy as np

logger = logging.getLogger(__name__)


class SetAside:
    """Rows of `width` float32 features, from chunks, until `take_back` returns them as one array."""

    def __init__(self, chunks: Sequence[np.ndarray], width: int, dtype: type = np.float32) -> None:
        self.width = width
        self.dtype = np.dtype(dtype)
        self.rows = sum(len(chunk) for chunk in chunks)
        self._file: IO[bytes] | None = None
        self._kept: np.ndarray | None = None
        try:
            self._file = tempfile.TemporaryFile(prefix="lightsage-rows-")  # noqa: SIM115 (closed by take_back)
            for chunk in chunks:
                np.ascontiguousarray(chunk, dtype=self.dtype).tofile(self._file)
            self._file.flush()
        except OSError as error:
            logger.info(f"no temporary file for {self.rows} rows set aside ({error}): they stay in memory")
            if self._file is not None:
                self._file.close()
            self._file = None
            self._kept = self._joined(chunks)

    def _joined(self, chunks: Sequence[np.ndarray]) -> np.ndarray:
        if not chunks:
            return np.empty((0, self.width), self.dtype)
        return np.concatenate([np.asarray(chunk, dtype=self.dtype) for chunk in chunks])

    def take_back(self) -> np.ndarray:
        """The rows, once: the file is then closed (and so removed)."""
        if self._file is None:
            if self._kept is None:
                raise RuntimeError("the rows set aside were already taken back")
            rows, self._kept = self._kept, None
            return rows
        with self._file as handle:
            handle.seek(0)
            values = np.fromfile(handle, dtype=self.dtype, count=self.rows * self.width)
        self._file = None
        self._kept = None
        return values.reshape(self.rows, self.width)
