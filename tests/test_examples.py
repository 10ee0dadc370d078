"""The bundled example scenarios: found through the package wherever it is installed, listed by
``simcore examples``, copied by ``simcore init`` without ever replacing a file; and ``simcore
completion``. (The installed wheel itself: tests/test_install.py.)"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from conftest import run_cli

import simcore
from simcore.errors import SimcoreError
from simcore.examples import DEFAULT, EXAMPLES, copy_example, example, example_path, examples

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_carries_every_top_level_scenario_file_unchanged():
    # simcore/scenarios/* are links to scenarios/*: the files people edit are the ones that ship.
    top = sorted(p.name for p in (ROOT / "scenarios").iterdir() if p.suffix in (".toml", ".csv"))
    bundled = sorted(p.name for p in (ROOT / "simcore" / "scenarios").iterdir())
    assert bundled == top
    for name in top:
        assert (ROOT / "simcore" / "scenarios" / name).read_bytes() == (
            ROOT / "scenarios" / name
        ).read_bytes()
    assert sorted(EXAMPLES.values()) == sorted(n for n in top if n.endswith(".toml"))


def test_example_paths_load_and_describe_themselves():
    assert example_path().name == f"{DEFAULT}.toml"
    found = examples()
    assert [e.name for e in found] == list(EXAMPLES) and found[0].name == DEFAULT
    for e in found:
        sc = simcore.load_scenario(e.path)
        assert e.description == sc.description and e.description
    assert example("enterprise").bank_csv.name == "enterprise_bank.csv"
    assert example("smb").bank_csv is None


def test_an_unknown_example_is_refused():
    with pytest.raises(
        SimcoreError, match="no example 'big'; the examples are fy2026, smb, enterprise, fy2026_segmented"
    ):
        example_path("big")


def test_the_default_runs_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no scenarios/ here
    code, out, err = run_cli(capsys, "run", "--trials", "100", "--json")
    assert code == 0, err
    assert json.loads(out)["scenario"] == "fy2026"
    for cmd in (["funnel", "--json"], ["validate", example_path()]):
        code, _, err = run_cli(capsys, *cmd)
        assert code == 0, err
    assert os.listdir(tmp_path) == []


def test_examples_lists_each_with_its_description(capsys):
    code, out, err = run_cli(capsys, "examples")
    assert code == 0 and err == ""
    for e in examples():
        line = next(x for x in out.splitlines() if x.strip().startswith(e.name + " "))
        assert e.description in line
    assert "(the default)" in out and "bank CSV" in out and str(example_path().parent) in out


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_init_copies_an_example_as_it_is(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "init", "--from", name)
    assert code == 0, err
    source = example(name)
    written = sorted(os.listdir(tmp_path))
    assert written == sorted([source.path.name] + ([source.bank_csv.name] if source.bank_csv else []))
    for file in written:
        assert (tmp_path / file).read_bytes() == (source.path.parent / file).read_bytes()
    assert f"simcore run {source.path.name}" in out
    # The copy is the example: the same scenario, the same hash.
    assert simcore.load_scenario(source.path.name).hash == simcore.load_scenario(source.path).hash


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_init_with_a_name_renames_the_scenario_and_its_bank(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "init", "acme plan", "--from", name)
    assert code == 0, err
    sc = simcore.load_scenario("acme plan.toml")
    original = simcore.load_scenario(example_path(name))
    assert sc.name == "acme plan"
    expected = tomllib.loads(example_path(name).read_text(encoding="utf-8"))
    expected["name"] = "acme plan"
    if example(name).bank_csv:
        expected["bank"]["csv"] = "acme plan_bank.csv"
        assert sorted(os.listdir(tmp_path)) == ["acme plan.toml", "acme plan_bank.csv"]
        assert len(sc.bank) == len(original.bank)
    assert tomllib.loads(Path("acme plan.toml").read_text(encoding="utf-8")) == expected
    code, _, err = run_cli(capsys, "validate", "acme plan.toml")
    assert code == 0, err


def test_init_never_replaces_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("acme_bank.csv").write_text("mine\n")
    code, out, err = run_cli(capsys, "init", "acme.toml", "--from", "enterprise")
    assert (code, out) == (2, "")
    assert err == "error: acme_bank.csv: exists already; give another name, or move it away first\n"
    assert os.listdir(tmp_path) == ["acme_bank.csv"] and Path("acme_bank.csv").read_text() == "mine\n"
    assert run_cli(capsys, "init", "acme")[0] == 0
    before = Path("acme.toml").read_bytes()
    code, _, err = run_cli(capsys, "init", "acme", "--from", "smb")
    assert code == 2 and "acme.toml: exists already" in err
    assert Path("acme.toml").read_bytes() == before


def test_init_refuses_nonsense(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv, words in [
        (["init", ""], "the scenario name is empty"),
        (["init", "x", "--from", "big"], "argument --from: invalid choice: 'big'"),
        (["init", "nowhere/acme"], "the folder 'nowhere' does not exist"),
    ]:
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == "" and words in err and err.count("\n") == 1, err
    assert os.listdir(tmp_path) == []


def test_copy_example_refuses_a_file_not_named_toml(tmp_path):
    with pytest.raises(SimcoreError, match=r"a scenario file's name ends in \.toml"):
        copy_example("smb", tmp_path / "plan.txt")
    assert os.listdir(tmp_path) == []


def test_a_checkout_without_symbolic_links_still_finds_the_files(tmp_path, monkeypatch):
    # git with core.symlinks=false writes each link as a file holding its target.
    folder = tmp_path / "pkg" / "simcore" / "scenarios"
    folder.mkdir(parents=True)
    (tmp_path / "pkg" / "scenarios").mkdir()
    (tmp_path / "pkg" / "scenarios" / "smb.toml").write_bytes(example_path("smb").read_bytes())
    (folder / "smb.toml").write_text("../../scenarios/smb.toml")
    monkeypatch.setattr("simcore.examples._folder", lambda: folder)
    assert example_path("smb") == (tmp_path / "pkg" / "scenarios" / "smb.toml").resolve()


def test_completion_prints_the_shell_code(capsys):
    pytest.importorskip("argcomplete")
    code, out, err = run_cli(capsys, "completion", "bash")
    assert code == 0 and err == "" and "simcore" in out and "complete" in out


def test_completion_without_argcomplete_says_what_to_install(capsys, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_argcomplete(name, *args, **kwargs):
        if name == "argcomplete":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_argcomplete)
    code, out, err = run_cli(capsys, "completion", "zsh")
    assert (code, out) == (2, "")
    assert err == (
        "error: shell completion needs argcomplete, which is not installed: pip install 'simcore[completion]'\n"
    )


@pytest.mark.slow
def test_the_shell_gets_completions_from_the_console_script(tmp_path):
    import shutil
    import subprocess
    import sys

    pytest.importorskip("argcomplete")
    exe = shutil.which("simcore", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the simcore console script is not installed in this environment")
    answers = {}
    for line in ("simcore ru", "simcore run --tr", "simcore init --from e"):
        out = tmp_path / "completions"
        env = {
            **os.environ,
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_SHELL": "bash",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        }
        proc = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        answers[line] = out.read_text().split()
    assert answers == {
        "simcore ru": ["run"],
        "simcore run --tr": ["--trials"],
        "simcore init --from e": ["enterprise"],
    }
