"""How a table reaches people and programs: cut to the terminal only on a terminal, whole values otherwise."""

import io
import json

import polars as pl

from monitoring_pipeline.cli.options import render, table_text

FRAME = pl.DataFrame(
    {
        "ticket_id": ["credit_risk:feature_drift:2026-10-12", None],
        "days": [3, 12],
        "size": [0.123456789, 2.5],
        "columns": [["income", "channel"], []],
    }
)


def test_a_table_is_cut_to_the_width_it_is_given_and_numbers_align_right() -> None:
    lines = table_text(FRAME, width=40).splitlines()
    assert max(len(line) for line in lines) <= 40
    assert lines[1].startswith("credit_ris…") and "0.123457" in lines[1] and "income; ch…" in lines[1]
    assert lines[1].index("3 ") == lines[2].index("12") + 1  # units under units


def test_piped_tables_keep_every_value_whole() -> None:
    text = table_text(FRAME)  # pytest's standard output is no terminal
    assert "credit_risk:feature_drift:2026-10-12" in text and "income; channel" in text and "…" not in text


def test_json_and_csv_carry_every_value_for_programs() -> None:
    assert json.loads(render(FRAME, "json"))[0]["columns"] == ["income", "channel"]
    back = pl.read_csv(io.StringIO(render(FRAME, "csv")))
    assert back["size"].to_list() == [0.123456789, 2.5] and back["columns"].to_list() == ["income; channel", ""]
