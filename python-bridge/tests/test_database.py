"""A torn last database line (a crash mid-append) is set aside, and the rest of the database is
used: by a resumed run, and by stock TVM's compile_tir after it."""

from __future__ import annotations

import json

import pytest
from tvm.s_tir import meta_schedule as ms

from colt_bridge.database import set_aside_torn_lines, sync_database
from colt_bridge.proto import pb
from conftest import stock_tvm_applies

TARGET = '{"kind":"llvm","num-cores":2}'
RECORDS = "database_tuning_record.json"


def _lines(path) -> list[str]:
    return path.read_text().splitlines()


def test_a_cut_short_last_line_is_moved_aside_and_the_rest_kept(tmp_path):
    records = tmp_path / RECORDS
    whole = [json.dumps([0, {"n": i}]) for i in range(3)]
    records.write_text("\n".join(whole) + "\n" + whole[0][:9])
    said = set_aside_torn_lines(str(tmp_path))
    assert len(said) == 1 and "cut short" in said[0] and "the 3 line(s) before it are used" in said[0]
    assert _lines(records) == whole
    assert (tmp_path / f"{RECORDS}.torn").read_text() == whole[0][:9] + "\n"
    # Nothing more to do the second time; a whole file is left as it is.
    assert set_aside_torn_lines(str(tmp_path)) == []
    assert _lines(records) == whole


def test_a_whole_but_unterminated_last_line_is_kept_and_terminated(tmp_path):
    records = tmp_path / RECORDS
    records.write_text('[0, {"a": 1}]\n[0, {"b": 2}]')
    assert set_aside_torn_lines(str(tmp_path)) == []
    assert records.read_text() == '[0, {"a": 1}]\n[0, {"b": 2}]\n'
    assert not (tmp_path / f"{RECORDS}.torn").exists()
    sync_database(str(tmp_path))  # syncs what is there, and nothing is missing


def test_a_task_reopened_on_a_torn_database_resumes_and_tvm_applies_it(bridge, tmp_path):
    work_dir = tmp_path / "torn"
    request = pb.OpenTaskRequest(workload="GMM:0", target_json=TARGET, work_dir=str(work_dir), seed=3)
    task = bridge.stub.OpenTask(request)
    assert list(task.warnings) == []
    traces = [c.trace_json for c in bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=3, seed=4)).candidates]
    bridge.stub.Measure(pb.MeasureRequest(task_id=task.task_id, trace_json=traces))
    bridge.stub.CloseTask(pb.CloseTaskRequest(task_id=task.task_id))
    records = work_dir / RECORDS
    lines = _lines(records)
    assert len(lines) == 3
    # A power cut halfway through the last append: TVM refuses the whole database.
    records.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    with pytest.raises(Exception, match="(?i)end|parse|json"):
        ms.database.JSONDatabase(work_dir=str(work_dir))

    reopened = bridge.stub.OpenTask(request)
    assert len(reopened.warnings) == 1 and f"{RECORDS}.torn" in reopened.warnings[0]
    listed = bridge.stub.ListRecords(pb.ListRecordsRequest(task_id=reopened.task_id))
    assert listed.total == 2
    bridge.stub.CloseTask(pb.CloseTaskRequest(task_id=reopened.task_id))
    # Stock TVM, in a process of its own, opens the database again and applies it.
    assert stock_tvm_applies(work_dir) == (2, True)
