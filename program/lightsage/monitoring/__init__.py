"""The `drift` program: `traffic` (captured requests, decoded as `serve` decodes them, or a table), `drift`
(each column's checks against the data baseline), `report` (the HTML page), `job` and `main` (the program)."""
