"""Feature rows set aside while boosting needs the memory: in an unnamed temporary file, read back once.

The validation rows' features are computed before boosting, so that a bad value in the validation channel
stops the job before the trees are grown, but they are only needed once boosting is done. Held in the job's
memory they add to its peak; in a file they sit in the page cache, which the system can drop when memory runs
short, while the job's own memory it cannot. Where no temporary file can be written, they stay in memory.
"""

from __future__ import annotations

import logging
import tempfile
from typing import IO

import numpy as np

from lightsage.model.boosting import FEATURE_DTYPE, FeatureMatrix

logger = logging.getLogger(__name__)


class SetAside:
    """A feature matrix's rows, set aside until `take_back` returns them as one float32 array."""

    def __init__(self, matrix: FeatureMatrix) -> None:
        self.width = matrix.width
        self.rows = matrix.rows
        self._file: IO[bytes] | None = None
        self._kept: np.ndarray | None = None
        try:
            self._file = tempfile.TemporaryFile(prefix="lightsage-rows-")  # noqa: SIM115 (closed by take_back)
            for chunk in matrix.chunks:
                np.ascontiguousarray(chunk, dtype=FEATURE_DTYPE).tofile(self._file)
            self._file.flush()
        except OSError as error:
            logger.info(f"no temporary file for {self.rows} rows set aside ({error}): they stay in memory")
            if self._file is not None:
                self._file.close()
            self._file = None
            self._kept = matrix.dense()

    def take_back(self) -> np.ndarray:
        """The rows, once: the file is then closed (and so removed)."""
        if self._file is None:
            if self._kept is None:
                raise RuntimeError("the rows set aside were already taken back")
            rows, self._kept = self._kept, None
            return rows
        with self._file as handle:
            handle.seek(0)
            values = np.fromfile(handle, dtype=FEATURE_DTYPE, count=self.rows * self.width)
        self._file = None
        self._kept = None
        return values.reshape(self.rows, self.width)
