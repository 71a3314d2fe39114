"""The statistics and report code of `make bench` (tools/bench/).

No stack and no timing: synthetic samples with fixed timestamps only. The
benchmark itself runs with `make bench`, never in the test suite.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from tools.bench import cli, load, plots, procstats, run, stats
from tools.bench import report as reporting
from tools.bench.stats import Sample

ROOT = Path(__file__).resolve().parents[1]


def test_percentile_interpolates_like_numpy() -> None:
    values = [15, 20, 35, 40, 50]
    assert stats.percentile(values, 0) == 15
    assert stats.percentile(values, 100) == 50
    assert stats.percentile(values, 50) == 35
    assert stats.percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile: 29.0
    assert stats.percentile(values, 95) == pytest.approx(48.0)
    assert stats.percentile(list(reversed(values)), 95) == pytest.approx(48.0)  # order-free


def test_percentile_edges() -> None:
    assert stats.percentile([], 50) is None
    assert stats.percentile([7.0], 99) == 7.0
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    with pytest.raises(ValueError):
        stats.percentile([1, 2], 101)


def test_latency_summary_is_in_milliseconds() -> None:
    summary = stats.latency_summary([0.1, 0.2, 0.3])
    assert summary["p50"] == pytest.approx(200)
    assert summary["min"] == pytest.approx(100) and summary["max"] == pytest.approx(300)
    assert summary["mean"] == pytest.approx(200)
    assert stats.latency_summary([]) == {
        k: None for k in ("p50", "p95", "p99", "mean", "min", "max")
    }


def test_throughput() -> None:
    assert stats.throughput(120, 60.0) == 2.0
    assert stats.throughput(0, 10.0) == 0.0
    with pytest.raises(ValueError):
        stats.throughput(5, 0)


def samples() -> list:
    return [
        Sample("greet", 0.0, 0.5),  # ends before the window: warm-up
        Sample("greet", 0.9, 1.2),  # started in warm-up, ends inside: counted
        Sample("greet", 2.0, 2.1),
        Sample("violation_backend", 3.0, 3.4),
        Sample("violation_backend", 4.0, 4.2, mismatch=True),
        Sample("faq", 5.0, 5.3, empty=True, mismatch=True),
        Sample("faq", 6.0, 9.0, error="timeout"),
        Sample("faq", 7.0, 7.1, error="http_500"),
        Sample("faq", 8.0, 8.1, error="http_500"),
        Sample("greet", 10.5, 11.5),  # ends after the window: not counted
    ]


def test_summarize_level_counts_only_the_window() -> None:
    level = stats.summarize_level(samples(), concurrency=8, window_start=1.0, window_end=11.0)
    assert level["concurrency"] == 8
    assert level["window_s"] == 10.0
    assert level["messages"] == 8
    assert level["answered"] == 5
    assert level["errors"] == 3
    assert level["error_kinds"] == {"timeout": 1, "http_500": 2}
    assert level["empty"] == 1
    assert level["mismatches"] == 2
    assert level["expected_share"] == pytest.approx(3 / 5)
    assert level["throughput_msg_s"] == pytest.approx(0.5)  # answered ones only
    # Latencies of the answered messages: 300, 100, 400, 200, 300 ms.
    assert level["latency_ms"]["p50"] == pytest.approx(300)
    assert level["latency_ms"]["max"] == pytest.approx(400)
    assert level["by_kind"]["greet"]["messages"] == 2
    assert level["by_kind"]["violation_backend"]["p50"] == pytest.approx(300)
    assert "faq" in level["by_kind"] and level["by_kind"]["faq"]["messages"] == 1
    assert level["by_kind"]["faq"]["mismatches"] == 1
    assert level["by_kind"]["greet"]["mismatches"] == 0


def test_summarize_level_with_nothing_answered() -> None:
    level = stats.summarize_level([Sample("greet", 0, 5, error="timeout")], 1, 0, 10)
    assert level["answered"] == 0 and level["throughput_msg_s"] == 0
    assert level["latency_ms"]["p99"] is None and level["expected_share"] is None


def test_ratio() -> None:
    assert stats.ratio(50, 200) == 0.25
    assert stats.ratio(3, 0) is None
    assert stats.ratio(None, 2) is None
    assert stats.ratio(2, None) is None


def config_result(scale: float, errors: int = 0) -> dict:
    levels = {}
    for level in (1, 8, 32):
        levels[str(level)] = {
            "concurrency": level,
            "window_s": 60.0,
            "messages": 100 + errors,
            "answered": 100,
            "errors": errors,
            "error_kinds": {"timeout": errors} if errors else {},
            "empty": 0,
            "mismatches": 10,
            "expected_share": 0.9,
            "throughput_msg_s": 10.0 / scale,
            "latency_ms": {
                "p50": 100.0 * scale * level,
                "p95": 200.0 * scale * level,
                "p99": 300.0 * scale * level,
                "mean": 1.0,
                "min": 1.0,
                "max": 1.0,
            },
            "by_kind": {},
        }
    return {
        "config": "config.yml",
        "model": "models/x.tar.gz",
        "server": "rasa run",
        "training": {"seconds": 60.0 * scale, "peak_rss_mb": 900.0 * scale, "source": "measured"},
        "cold_start": {"seconds": 30.0 * scale, "first_answer_s": 0.4},
        "peak_rss_mb": {"bot": 1000.0 * scale, "actions": 50.0, "citysim": 30.0},
        "sanity": {"turns": 22, "ok": 22, "failures": []},
        "levels": levels,
    }


def test_comparison_table_has_every_figure_and_ratio() -> None:
    configs = {"ours": config_result(0.5), "stock": config_result(2.0, errors=3)}
    rows = {row["figure"]: row for row in reporting.comparison_table(configs, [1, 8, 32])}
    expected = {f"latency_{p}_c{n}" for p in ("p50", "p95", "p99") for n in (1, 8, 32)}
    expected |= {f"throughput_c{n}" for n in (1, 8, 32)}
    expected |= {
        "cold_start",
        "training_time",
        "peak_memory",
        "training_peak_memory",
        "expected_answers",
        "errors",
    }
    assert set(rows) == expected
    assert rows["latency_p95_c8"]["ours"] == 800 and rows["latency_p95_c8"]["stock"] == 3200
    assert rows["latency_p95_c8"]["ratio"] == pytest.approx(0.25)
    assert rows["throughput_c32"]["ratio"] == pytest.approx(4.0)
    assert rows["throughput_c32"]["better"] == "higher"
    assert rows["cold_start"]["ratio"] == pytest.approx(0.25)
    assert rows["training_time"]["ratio"] == pytest.approx(0.25)
    assert rows["peak_memory"]["ours"] == 500 and rows["peak_memory"]["ratio"] == pytest.approx(
        0.25
    )
    assert rows["expected_answers"]["ours"] == pytest.approx(90.0)
    assert rows["errors"]["ours"] == 0 and rows["errors"]["stock"] == 9
    assert rows["errors"]["ratio"] == 0


def test_comparison_table_without_stock() -> None:
    rows = reporting.comparison_table({"ours": config_result(1.0)}, [1, 8, 32])
    assert all(row["stock"] is None and row["ratio"] is None for row in rows)
    assert all(row["ours"] is not None for row in rows)


def test_training_time_from_an_earlier_run_is_marked() -> None:
    ours = config_result(1.0)
    ours["training"] = {"seconds": 42.0, "peak_rss_mb": None, "source": "previous run 2024-01-01"}
    stock = config_result(1.0)
    stock["training"] = {
        "seconds": None,
        "peak_rss_mb": None,
        "source": "not measured (--skip-train)",
    }
    rows = {r["figure"]: r for r in reporting.comparison_table({"ours": ours, "stock": stock}, [1])}
    assert rows["training_time"]["ours"] == 42.0 and rows["training_time"]["ratio"] is None
    assert "ours: previous run 2024-01-01" in rows["training_time"]["note"]
    assert "stock: not measured" in rows["training_time"]["note"]
    text = reporting.format_table(list(rows.values()))
    assert "previous run 2024-01-01" in text and "n/a" in text


def test_format_table_and_markdown() -> None:
    configs = {"ours": config_result(0.5), "stock": config_result(2.0)}
    rows = reporting.comparison_table(configs, [1, 8, 32])
    text = reporting.format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "latency p50 @1 (ms)" in text and "0.25" in text
    md = reporting.markdown_table(rows)
    assert [c.strip() for c in md.splitlines()[0].strip("|").split("|")] == [
        "figure",
        "ours",
        "stock",
        "ours/stock",
        "better",
    ]
    assert len(md.splitlines()) == 2 + len(rows)


def make_report(configs: dict, levels=(1, 8, 32), **settings_extra: object) -> dict:
    settings = run.Settings(
        list(levels), 60, 10, 1, 60, run.Ports.from_base(25000), Path("/tmp"), **settings_extra
    )
    return cli.build_report(
        configs,
        settings,
        ["python", "-m", "tools.bench"],
        {"nproc": "2"},
        {"commit": "0" * 40, "dirty": False},
        "2024-01-01T00:00:00+00:00",
        12.3,
    )


def test_report_round_trips_through_json_and_validates() -> None:
    report = make_report({"ours": config_result(0.5), "stock": config_result(2.0)})
    again = json.loads(json.dumps(report, ensure_ascii=False))
    assert reporting.validate_report(again) == []
    assert again["schema"] == reporting.SCHEMA
    assert again["settings"]["levels"] == [1, 8, 32]
    assert [c["name"] for c in again["settings"]["conversations"]] == [
        c.name for c in load.CONVERSATIONS
    ]


def test_validate_report_finds_problems() -> None:
    report = make_report({"ours": config_result(1.0)})
    assert reporting.validate_report(report) == []
    broken = json.loads(json.dumps(report))
    del broken["configs"]["ours"]["levels"]["8"]
    broken["configs"]["ours"]["levels"]["32"]["latency_ms"].pop("p99")
    broken["configs"]["ours"]["levels"]["1"]["errors"] = "0"
    problems = reporting.validate_report(broken)
    assert "configs.ours.levels: missing 8" in problems
    assert "configs.ours.levels.32.latency_ms: missing p99" in problems
    assert "configs.ours.levels.1.errors: str" in problems
    assert reporting.validate_report({"schema": "other"})  # missing everything
    no_ours = make_report({"stock": config_result(1.0)})
    assert "configs: missing ours" in reporting.validate_report(no_ours)


def test_previous_training(tmp_path: Path) -> None:
    earlier = make_report({"ours": config_result(1.0), "stock": config_result(2.0)})
    (tmp_path / "bench.json").write_text(json.dumps(earlier), encoding="utf-8")
    (tmp_path / "comparison.json").write_text(json.dumps({"stock": {"train_seconds": 999}}))
    found = run.previous_training(tmp_path / "bench.json", tmp_path / "comparison.json")
    assert found["ours"]["seconds"] == 60.0 and found["stock"]["seconds"] == 120.0
    assert found["ours"]["source"] == "previous run 2024-01-01T00:00:00+00:00"
    only_eval = run.previous_training(tmp_path / "missing.json", tmp_path / "comparison.json")
    assert only_eval["stock"]["seconds"] == 999 and "make eval" in only_eval["stock"]["source"]
    assert "ours" not in only_eval


def test_conversations_are_fixed_and_replayable() -> None:
    first = [c.name for c in itertools.islice(load.conversation_schedule(7, 3), 50)]
    again = [c.name for c in itertools.islice(load.conversation_schedule(7, 3), 50)]
    other = [c.name for c in itertools.islice(load.conversation_schedule(7, 4), 50)]
    assert first == again and first != other
    assert set(first) <= {c.name for c in load.CONVERSATIONS}
    texts = " ".join(t.text for c in load.CONVERSATIONS for t in c.turns)
    # Never pays or books: every conversation can be replayed indefinitely.
    assert not any(word in texts for word in ("交罚款", "缴费", "预约", "挂号", "确认"))
    for plate in ("粤A288E0", "粤B55S41", "8ZCCYU", "深南大道", "护照", "10路"):
        assert plate in texts
    assert all(t.kind for c in load.CONVERSATIONS for t in c.turns)


def test_parse_args_quick_defaults() -> None:
    args = cli.parse_args(["--quick"])
    assert args.skip_train and args.skip_stock
    assert args.duration == 3 and args.warmup == 1 and args.level_list == [1, 8, 32]
    args = cli.parse_args(["--quick", "--duration=5", "--levels", "2,4"])
    assert args.duration == 5 and args.level_list == [2, 4]
    assert not cli.parse_args(["--quick", "--stock"]).skip_stock
    args = cli.parse_args([])
    assert args.duration == 60 and args.warmup == 10 and not args.skip_stock
    with pytest.raises(SystemExit):
        cli.parse_args(["--levels", "0"])


def test_process_tree_includes_this_process() -> None:
    import os

    assert procstats.process_tree(os.getpid())[0] == os.getpid()


def test_sampler_lists_a_tree_again_only_every_relist_samples(monkeypatch) -> None:
    import os

    listed = []
    real = procstats._members
    monkeypatch.setattr(procstats, "_members", lambda pid: listed.append(pid) or real(pid))
    sampler = procstats.RssSampler({"me": os.getpid()}, relist=3)
    for _ in range(7):
        sampler.sample()
    assert len(listed) == 3  # samples 1 (first sight), 3 and 6
    assert sampler.peaks["me"] > 0 and sampler.end_phase()["me"] > 0


def test_plots_are_written(tmp_path: Path) -> None:
    for configs in (
        {"ours": config_result(0.5)},
        {"ours": config_result(0.5), "stock": config_result(2.0)},
    ):
        paths = plots.plot(make_report(configs), tmp_path, "bench")
        assert [p.name for p in paths] == ["bench_latency.png", "bench_throughput.png"]
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_cpu_seconds_count_a_busy_child_in_the_tree_only() -> None:
    """The child burns a fixed amount of its own CPU time, reports it, then waits:
    the tree's count must include what the child itself counted (no clock involved)."""
    import subprocess
    import sys

    burn = (
        "import sys, time\n"
        "while time.process_time() < 0.2: pass\n"
        "print(time.process_time(), flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        child_cpu = float(child.stdout.readline())
        assert child.pid in procstats.process_tree(os.getpid())
        # The child is blocked now; this process only gains time, so read it first.
        alone = procstats.cpu_seconds(child.pid, tree=False)
        own = procstats.cpu_seconds(os.getpid(), tree=False)
        in_tree = procstats.cpu_seconds(os.getpid()) - own
    finally:
        child.kill()
        child.wait()
    # Rounded to clock ticks (10 ms) by the kernel, hence the one-tick margin.
    assert alone >= child_cpu - 0.011
    assert in_tree >= alone - 1e-9  # sums of floats


def test_cpu_percent_is_per_core_over_the_interval() -> None:
    shares = procstats.cpu_percent(
        {"bot": 10.0, "actions": 1.0}, {"bot": 25.0, "actions": 4.0}, 10.0
    )
    assert shares == {"bot": 150.0, "actions": 30.0}


def test_training_says_it_is_still_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import subprocess

    class SlowTraining:
        """A `rasa train` that is still going at the first two waits (no clock)."""

        pid = os.getpid()
        waits = 0

        def __init__(self, command: list, **kwargs: object) -> None:
            self.command = command

        def wait(self, timeout: float) -> int:
            SlowTraining.waits += 1
            if SlowTraining.waits <= 2:
                raise subprocess.TimeoutExpired(self.command, timeout)
            return 0

    monkeypatch.setattr(subprocess, "Popen", SlowTraining)
    result = run.train("config.yml", tmp_path, "ours", dict(os.environ), tmp_path / "train.log")
    assert capsys.readouterr().out.count("still training") == 2
    assert result["source"] == "measured" and result["seconds"] >= 0
    assert result["model"] == str(tmp_path / "ours.tar.gz")


def with_varied_and_long(result: dict, scale: float) -> dict:
    """A result with the varied workload's levels and a long conversation."""
    result["varied"] = {str(level): result["levels"][str(level)] for level in (1, 32)}
    per_turn = [10.0 * scale] * 20 + [None] + [15.0 * scale] * 20
    result["long"] = stats.long_summary(
        [stats.Sample("long", 0.0, (ms or 0) / 1000, None if ms else "timeout") for ms in per_turn],
        20,
    )
    return result


def test_long_summary_compares_the_first_and_the_last_answered_turns() -> None:
    samples = [stats.Sample("long", 0.0, t / 1000) for t in (10, 12, 14, 100, 30, 32, 34)]
    samples.insert(3, stats.Sample("long", 0.0, 9.0, "timeout"))
    summary = stats.long_summary(samples, 3)
    assert summary["turns"] == 8 and summary["errors"] == 1
    assert summary["first_p50_ms"] == pytest.approx(12) and summary["last_p50_ms"] == pytest.approx(
        32
    )
    assert summary["last_over_first"] == pytest.approx(32 / 12)
    assert summary["per_turn_ms"][3] is None and len(summary["per_turn_ms"]) == 8


def test_comparison_table_has_the_varied_levels_and_the_long_conversation() -> None:
    configs = {
        "ours": with_varied_and_long(config_result(0.5), 1.0),
        "stock": with_varied_and_long(config_result(2.0), 3.0),
    }
    rows = {r["figure"]: r for r in reporting.comparison_table(configs, [1, 8, 32], [1, 32], True)}
    assert rows["varied_p95_c32"]["ours"] == pytest.approx(3200)
    assert rows["varied_throughput_c1"]["ratio"] == pytest.approx(4.0)
    assert rows["long_first_p50"]["ours"] == pytest.approx(10)
    assert rows["long_last_p50"]["stock"] == pytest.approx(45)
    assert (
        rows["long_ratio"]["ours"] == pytest.approx(1.5) and rows["long_ratio"]["better"] == "lower"
    )
    assert "varied_p50_c8" not in rows  # only the varied levels asked for


def test_the_varied_workload_is_its_own_and_replayable() -> None:
    import re

    first = [
        t.text
        for c in itertools.islice(load.conversation_schedule(7, 3, "varied"), 20)
        for t in c.turns
    ]
    again = [
        t.text
        for c in itertools.islice(load.conversation_schedule(7, 3, "varied"), 20)
        for t in c.turns
    ]
    assert first == again and len(first) == 20 * load.VARIED_TURNS
    assert set(first) <= set(load.VARIED_MESSAGES) and len(set(first)) > 30
    assert len(set(load.VARIED_MESSAGES)) == len(load.VARIED_MESSAGES) == 100
    # Written for the bench: not a training example nor an NLU test message.
    written = set()
    for path in [*(ROOT / "data").rglob("*.yml"), *(ROOT / "tests" / "nlu").rglob("*.yml")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            example = re.match(r"\s*-\s*(.+)$", line)
            if example:
                written.add(re.sub(r"\[([^\]]+)\][({][^)}]*[)}]", r"\1", example.group(1)).strip())
    assert not written & set(load.VARIED_MESSAGES)


def test_parse_args_varied_long_and_baseline() -> None:
    args = cli.parse_args([])
    assert args.varied_list == [1, 8, 32] and args.long_turns == 200 and args.baseline == "stock"
    args = cli.parse_args(["--quick", "--varied-levels", "none", "--baseline", "unpatched"])
    assert args.varied_list == [] and args.long_turns == 40 and args.baseline == "unpatched"
    with pytest.raises(SystemExit):
        cli.parse_args(["--long-turns", "-1"])


def test_plots_include_the_varied_workload_and_the_long_conversation(tmp_path: Path) -> None:
    configs = {
        "ours": with_varied_and_long(config_result(0.5), 1.0),
        "stock": with_varied_and_long(config_result(2.0), 3.0),
    }
    paths = plots.plot(make_report(configs), tmp_path, "bench")
    assert [p.name for p in paths] == [
        "bench_latency.png",
        "bench_throughput.png",
        "bench_varied.png",
        "bench_long.png",
    ]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_a_report_with_the_varied_levels_and_the_long_conversation_validates() -> None:
    configs = {"ours": with_varied_and_long(config_result(0.5), 1.0)}
    report = make_report(configs, varied_levels=[1, 32], long_turns=41)
    assert reporting.validate_report(json.loads(json.dumps(report))) == []
    del configs["ours"]["varied"]["32"]
    assert "configs.ours.varied: missing 32" in reporting.validate_report(report)


def test_the_long_conversation_ends_on_the_messages_it_started_with() -> None:
    from tools.bench.varied import long_messages

    texts = long_messages(200, 20)
    assert len(texts) == 200 and texts[-20:] == texts[:20]
    assert len(set(texts)) == 90  # rounds of 90: most of the varied messages
    short = long_messages(41, 20)  # rounds of 21
    assert short[-20:] == short[:20]
