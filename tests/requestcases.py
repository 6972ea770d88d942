"""Titanic request bodies shared by the decoding tests and the container tests: one row, one record, and
the bad requests with the status and message each must get."""

import json

COLUMNS = "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked".split(",")
ROW = '1,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S'
RECORD = {
    "PassengerId": 1, "Pclass": 3, "Name": "Braund, Mr. Owen Harris", "Sex": "male", "Age": 22, "SibSp": 1,
    "Parch": 0, "Ticket": "A/5 21171", "Fare": 7.25, "Cabin": None, "Embarked": "S",
}  # fmt: skip


BAD_REQUESTS = [
    (ROW, "application/xml", 415, "unsupported Content-Type 'application/xml'"),
    (ROW, "", 415, "unsupported Content-Type ''"),
    (b"", "text/csv", 400, "request body is empty"),
    (b"  \n ", "application/json", 400, "request body is empty"),
    (b"1,3,\xff\xfe,male", "text/csv", 400, "not valid UTF-8: byte 4 is 0xff"),
    ('1,3,"unterminated,male\n', "text/csv", 400, "the body ends inside a quoted field"),
    ("1,3,x,male,22", "text/csv", 400, "row 1 has 5 field(s); without a header row each row needs 11"),
    (
        ROW.replace(",", ";").replace('"Braund; Mr. Owen Harris"', "Braund"),
        "text/csv",
        400,
        "row 1 has 1 field(s); without a header row each row needs 11, in this order: PassengerId,Pclass,"
        "Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked (its one field holds semicolons: CSV fields",
    ),
    (";".join(COLUMNS) + "\n" + ROW, "text/csv", 400, "(its one field holds semicolons: CSV fields are"),
    (ROW.replace(",22,", ",old,"), "text/csv", 400, "row 1, column 'Age': 'old' is not a number"),
    (ROW.replace(",22,", ",2_2,"), "text/csv", 400, "row 1, column 'Age': '2_2' is not a number"),
    (ROW.replace(",7.25,", ",inf,"), "text/csv", 400, "column 'Fare': 'inf' is not a number"),
    (
        ROW.replace(",male,", ",Female2,"),
        "text/csv",
        400,
        "column 'Sex': 'Female2' is not one of male, female",
    ),
    (ROW.replace(",3,", ",4,", 1), "text/csv", 400, "column 'Pclass': '4' is not one of 1, 2, 3"),
    (ROW.replace(",S", ",X"), "text/csv", 400, "column 'Embarked': 'X' is not one of S, C, Q"),
    ("Name,Sex\nX,male\n", "text/csv", 400, "CSV header is missing required column(s): Pclass, Age"),
    ("Name,Name,Sex\n", "text/csv", 400, "the header names these columns more than once: Name"),
    ("," + ",".join(COLUMNS) + "\n0," + ROW, "text/csv", 400, "a pandas index written by DataFrame.to_csv()"),
    (
        ",".join(map(str, range(11))) + "\n" + ROW,
        "text/csv",
        400,
        "numbers the columns instead of naming them",
    ),
    (",".join(COLUMNS) + "\n", "text/csv", 400, "CSV body has a header but no data rows"),
    (
        ",".join(COLUMNS) + "\n" + ROW + ",extra\n",
        "text/csv",
        400,
        "row 1 has 12 field(s); the header has 11",
    ),
    ("{", "application/json", 400, "request body is not valid JSON"),
    ('{"Age": Infinity}', "application/json", 400, "Infinity is not a valid value"),
    ("[]", "application/json", 400, "request holds no records"),
    ('"text"', "application/json", 400, "JSON body is str"),
    ('{"instances": {"a": 1}}', "application/json", 400, "'instances' must be a list"),
    (
        json.dumps({"instances": [RECORD], "Age": 3, "Sex": "male"}),
        "application/json",
        400,
        "holds both a list under 'instances' (the {\"instances\": [...]} form) and column(s) Sex, Age",
    ),
    (
        ROW.replace(",22,", ",old,").replace("Braund, Mr. Owen Harris", "Sex"),
        "text/csv",
        400,
        "row 1, column 'Age': 'old' is not a number",
    ),
    ("[1, 2]", "application/json", 400, "record 1 is int, expected an object"),
    ("[[1, 2]]", "application/json", 400, "record 1 is a list of 2 value(s)"),
    ('{"Pclass": 1}', "application/json", 400, "record 1 is missing required column(s): Name, Sex, Age"),
    (
        json.dumps({**RECORD, "Age": "old"}),
        "application/json",
        400,
        "record 1, column 'Age': 'old' is not a number",
    ),
    (json.dumps({**RECORD, "Age": True}), "application/json", 400, "column 'Age': True is not a number"),
    (json.dumps({**RECORD, "Sex": {"a": 1}}), "application/json", 400, "column 'Sex': dict is not a string"),
    ("[" * 100_000 + "]" * 100_000, "application/json", 400, "nested too deeply"),
    (json.dumps(RECORD) + "\n\n{bad", "application/jsonlines", 400, "line 3 is not valid JSON"),
    ("\n" + json.dumps({**RECORD, "Age": "x"}), "application/jsonlines", 400, "line 2, column 'Age': 'x'"),
]
