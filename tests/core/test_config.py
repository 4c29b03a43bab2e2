"""`EvalConfig`: `--config run.yaml` vs flags, flags replacing file keys, bad files, Task/Runner instances."""
import json
import shutil
from pathlib import Path

import pytest

from tests.readme import command_lines, readme_block
from vbench.cli.main import build_parser, main
from vbench.config import EvalConfig
from vbench.evaluator import build_task, evaluate
from vbench.images import ImageStore
from vbench.runners.dummy import DummyArgs, DummyRunner
from vbench.tasks.base import TaskContext

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("started_at", "finished_at", "duration_s")


def _outputs(out: Path) -> tuple[bytes, dict]:
    """samples.jsonl bytes and results.json without its timing fields."""
    folder = next(out.glob("*/aggressiveness_rating"))
    results = json.loads((folder / "results.json").read_text())
    for key in TIMING:
        results["run"].pop(key)
    return (folder / "samples.jsonl").read_bytes(), results


def test_config_file_and_flags_give_identical_outputs(avatars, tmp_path, isolated_cache):
    out = tmp_path / "out"
    (tmp_path / "run.yaml").write_text(f"""
model: dummy
model_args: {{vocab: "yes no 3 5 7 I would rather not"}}
tasks: [aggressiveness_rating]
task_args: {{scoring: sampled}}
dataset: {avatars}
limit: 5
repeats: 2
seed: 3
batch_size: 2
gen_kwargs: {{temperature: 0.7, max_tokens: 6}}
output_path: {out}
use_cache: false
show_progress: false
""")
    assert main(["eval", "--config", str(tmp_path / "run.yaml")]) == 0
    from_file = _outputs(out)
    shutil.rmtree(out)
    flags = ["eval", "--model", "dummy", "--model_args", "vocab=yes no 3 5 7 I would rather not",
             "--tasks", "aggressiveness_rating", "--task_args", "scoring=sampled", "--dataset", str(avatars),
             "--limit", "5", "--repeats", "2", "--seed", "3", "--batch_size", "2",
             "--gen_kwargs", "temperature=0.7,max_tokens=6", "--output_path", str(out), "--no-cache", "--quiet"]
    assert main(flags) == 0
    from_flags = _outputs(out)
    assert from_file[0] == from_flags[0] and len(from_file[0].splitlines()) == 10
    assert from_file[1] == from_flags[1]
    assert from_file[1]["run"]["seed"] == 3 and from_file[1]["run"]["gen_kwargs"] == {"temperature": 0.7, "max_tokens": 6}
    # the recorded command is the flags' equivalent of the run, which re-parses to the same settings
    command = from_file[1]["run"]["command"]
    assert command[:2] == ["vbench", "eval"] and "--config" not in command
    from vbench.cli.eval_cmd import eval_config

    again = eval_config(build_parser().parse_args(command[1:]))
    assert again.as_command() == command and again.seed == 3 and again.use_cache is False


def test_flags_replace_file_keys_and_defaults_do_not(avatars, tmp_path, isolated_cache):
    out = tmp_path / "from-file"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"model: dummy\ntasks: aggressiveness_rating\ndataset: {avatars}\nlimit: 4\nseed: 1\n"
                   f"batch_size: 3\ngen_kwargs: {{max_tokens: 5}}\noutput_path: {out}\nshow_progress: false\n")
    assert main(["eval", "--config", str(cfg), "--limit", "2", "--seed", "9"]) == 0
    res = json.loads(next(out.glob("*/aggressiveness_rating/results.json")).read_text())
    assert res["run"]["limit"] == 2 and res["run"]["seed"] == 9 and res["counts"]["n_samples"] == 2  # flags win
    # keys no flag was given for keep the file's value, never argparse's default
    assert res["run"]["batch_size"] == 3 and res["run"]["gen_kwargs"] == {"max_tokens": 5}
    other = tmp_path / "other"
    assert main(["eval", "--config", str(cfg), "--output_path", str(other)]) == 0
    res2 = json.loads(next(other.glob("*/aggressiveness_rating/results.json")).read_text())
    assert res2["run"]["limit"] == 4 and res2["run"]["seed"] == 1


@pytest.mark.parametrize("content, expected", [
    ("modle: dummy\n", "unknown key 'modle' (did you mean 'model'?)"),
    ("model: dummy\nlimit: many\n", "limit: Input should be a valid integer"),
    ("model: dummy\nlimit: 0\n", "limit: Input should be greater than or equal to 1"),
    ("model: dummy\nseed: true\n", "seed: Input should be a valid integer"),
    ("model: dummy\nbatch_size: -2\n", "batch_size: expected a positive integer or auto"),
    ("model: [dummy\n", "not valid YAML"),
    ("- dummy\n- hf\n", "expected a mapping of settings"),
    ("model: dummy\ngen_kwargs: {temp: 1}\n", "gen_kwargs: unknown key 'temp'"),
    ("model: dummy\ntask_args: {colour: red}\n", "task_args: unknown key 'colour'"),
    ("model: dummy\nmodel_roles: {judge: 5}\n", "model_roles.judge:"),
    (None, "no such file"),
])
def test_bad_config_file_is_one_line_and_exit_2(content, expected, avatars, tmp_path, capsys, isolated_cache):
    cfg = tmp_path / "run.yaml"
    if content is not None:
        cfg.write_text(content)
    out = tmp_path / "out"
    code = main(["eval", "--config", str(cfg), "--tasks", "aggressiveness_rating", "--dataset", str(avatars),
                 "--output_path", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("vbench: error:") and "Traceback" not in err
    assert str(cfg) in err and expected in err
    assert not out.exists()  # nothing written


def test_a_bad_flag_is_blamed_on_the_flag_not_the_file(avatars, tmp_path, capsys, isolated_cache):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"model: dummy\ntasks: aggressiveness_rating\ndataset: {avatars}\ngen_kwargs: max_tokens=4\n")
    assert main(["eval", "--config", str(cfg), "--gen_kwargs", "temp=1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vbench: error: --gen_kwargs: unknown key 'temp'") and str(cfg) not in err
    cfg.write_text("tasks: aggressiveness_rating\n")
    assert main(["eval", "--config", str(cfg)]) == 2
    assert "required: --model" in capsys.readouterr().err


def test_evaluate_takes_task_and_runner_instances(avatars, tmp_path, isolated_cache):
    by_name = evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), limit=3, seed=2,
                       output_path=tmp_path / "by-name", show_progress=False)["aggressiveness_rating"]
    # instances built on their own image stores: the run moves both onto its own
    runner = DummyRunner(DummyArgs(), store=ImageStore(tmp_path / "runner-store"))
    closed = []
    runner.close = lambda: closed.append(True)
    task = build_task("aggressiveness_rating", None,
                      TaskContext(store=ImageStore(tmp_path / "task-store"), dataset=str(avatars), limit=3, seed=2))
    config = EvalConfig(model=runner, tasks=[task], output_path=tmp_path / "by-instance", show_progress=False,
                        cache_dir=tmp_path / "own-cache")
    res = evaluate(config=config)["aggressiveness_rating"]
    assert runner.calls == 6 and not closed  # used for every request, left open for its owner
    assert res.model.backend == "dummy" and res.model.fingerprint == by_name.model.fingerprint
    assert res.run.seed == 2 and res.run.limit == 3 and res.metrics == by_name.metrics
    assert _outputs(tmp_path / "by-instance")[0] == _outputs(tmp_path / "by-name")[0]
    assert runner.store.root == task.ctx.store.root == tmp_path / "own-cache" / "images"


def test_runner_instance_as_a_role_model(avatars, tmp_path, isolated_cache):
    player = DummyRunner(DummyArgs(vocab="I propose $50 for me and $50 for you"))
    res = evaluate(model="dummy", model_roles={"player": player}, tasks="ultimatum_solo", dataset=str(avatars),
                   limit=1, repeats=1, gen_kwargs="max_tokens=12", output_path=tmp_path / "out",
                   show_progress=False)["ultimatum_solo"]
    assert player.calls > 0 and res.roles["player"].backend == "dummy" and res.counts.n_ok == 1


def test_keyword_api_and_config_agree():
    cfg = EvalConfig.build({"model": "dummy", "tasks": "a, b", "model_roles": {"judge": "openai:model=x",
                                                                              "player": ("hf", "pretrained=p")}})
    assert cfg.tasks == ["a", "b"] and cfg.model_roles["judge"].model_args == "model=x"
    assert cfg.updated(seed=4).seed == 4 and cfg.updated(seed=4).tasks == ["a", "b"]
    assert EvalConfig(shard="2/4").shard_part == EvalConfig(shard=(2, 4)).shard_part == (2, 4)
    assert "--model-role" in cfg.as_command() and "judge=openai:model=x" in cfg.as_command()
    secret = EvalConfig(model="openai", model_args={"model": "x", "api_key": "sk-1"}).as_command()
    assert "sk-1" not in " ".join(secret) and "model=x,api_key=<redacted>" in secret


def test_readme_config_example_runs(tiny_llava, avatars, tmp_path, run_cli):
    import shlex

    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "tiny-llava").symlink_to(tiny_llava)
    (tmp_path / "demo" / "avatars").symlink_to(avatars)
    yaml_text, commands = readme_block("### Settings from a file", "yaml"), command_lines(readme_block("### Settings from a file"))
    (tmp_path / "run.yaml").write_text(yaml_text)
    assert commands and all(c.startswith("vbench eval --config run.yaml") for c in commands)
    for cmd in commands:
        proc = run_cli(*shlex.split(cmd)[1:], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    config = EvalConfig.from_file(tmp_path / "run.yaml")
    runs = sorted(tmp_path.rglob("results.json"))
    assert len(runs) == len(commands)
    seeds = {json.loads(p.read_text())["run"]["seed"] for p in runs}
    assert config.seed in seeds and len(seeds) == len(commands)  # the second command replaced the seed
