"""Training channels that must fail with a named reason, shared by the host tests of `train` and the
container tests."""

import csv
import gzip
import io

from testsupport import TRAIN_CSV, VALIDATION_CSV

HEADER = TRAIN_CSV.read_text().splitlines()[0]
TRAIN_BYTES = TRAIN_CSV.read_bytes()
VALIDATION = [("validation.csv", VALIDATION_CSV.read_bytes())]


def with_cell(row: int, column: str, value: str, source: bytes = TRAIN_BYTES) -> bytes:
    rows = list(csv.reader(io.StringIO(source.decode())))
    rows[row][rows[0].index(column)] = value
    output = io.StringIO()
    csv.writer(output, lineterminator="\n").writerows(rows)
    return output.getvalue().encode()


def bad_case_channels(case: str) -> dict[str, list[tuple[str, bytes]]]:
    body = TRAIN_BYTES.decode()
    train_files = {
        "header_only": [("train.csv", (HEADER + "\n").encode())],
        "not_data": [("train.txt.bak", b"hello")],
        "garbage_parquet": [("train.parquet", b"PAR1 and nothing")],
        "binary_garbage": [("train.csv", bytes(range(256)) * 4)],
        "no_target": [("train.csv", body.replace("Survived,", "Label,", 1).encode())],
        "missing_column": [("train.csv", body.replace(",Cabin,", ",Cabinet,", 1).encode())],
        "bad_number": [("train.csv", with_cell(5, "Age", "old"))],
        "closed_vocabulary": [("train.csv", with_cell(7, "Sex", "unknown"))],
        "different_headers": [
            ("a.csv", TRAIN_BYTES),
            ("b.csv", body.replace("Embarked", "Port", 1).encode()),
        ],
        "duplicated_header": [("train.csv", body.replace("Embarked", "Age", 1).encode())],
        "truncated_mid_row": [("train.csv", TRAIN_BYTES[: TRAIN_BYTES.rindex(b",male,")])],
        "truncated_gzip": [("train.csv.gz", gzip.compress(TRAIN_BYTES)[:-200])],
        "one_class": [
            (
                "train.csv",
                "\n".join(
                    [HEADER] + [line.replace(",1,", ",0,", 1) for line in body.splitlines()[1:]]
                ).encode(),
            )
        ],
        "no_labels": [("train.csv", "\n".join([HEADER] + [",".join(["1", "", *(["3"] * 10)])] * 5).encode())],
    }
    if case == "missing_train":
        return {"validation": VALIDATION}
    if case == "unknown_validation_class":
        return {
            "train": [("train.csv", TRAIN_BYTES)],
            "validation": [("v.csv", with_cell(3, "Survived", "2", VALIDATION_CSV.read_bytes()))],
        }
    return {"train": train_files[case], "validation": VALIDATION}
