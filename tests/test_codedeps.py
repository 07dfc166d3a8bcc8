"""Code-aware reruns: each rule depends on the library modules its script imports."""

import ast
import os
import shutil
from pathlib import Path

import pytest
import yaml
from userdir import run_readme_command

import nncosmo
from nncosmo.codedeps import code_digest, code_digests, imported_modules, rule_code

SYNTHETIC = {
    "pkg/__init__.py": "",
    "pkg/a.py": "import os\nfrom pkg import b\n",
    "pkg/b.py": "import math\n\n\ndef f():\n    from pkg.c import g\n    return g\n",
    "pkg/c.py": "from . import d\n\ng = d\n",
    "pkg/d.py": "VALUE = 1\n",
    "pkg/unused.py": "import pkg.a\n",
    "pkg/sub/__init__.py": "from . import f\n",  # relative to pkg.sub itself
    "pkg/sub/e.py": "from ..d import VALUE\n",
    "pkg/sub/f.py": "",
    "pkgx/a.py": "",
    "script.py": "import pkgx.a\nfrom pkg.a import thing\n",
    "other.py": "import pkg.sub.e\n",
}


@pytest.fixture
def package(tmp_path):
    """A package `pkg` with module-level, function-local, relative and submodule imports."""
    for name, text in SYNTHETIC.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_import_graph_is_followed_through_local_and_relative_imports(package):
    modules = imported_modules(package / "script.py", package / "pkg")
    assert list(modules) == ["pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"]
    assert modules["pkg.c"] == package / "pkg" / "c.py"
    other = imported_modules(package / "other.py", package / "pkg")
    assert list(other) == ["pkg", "pkg.d", "pkg.sub", "pkg.sub.e", "pkg.sub.f"]


def test_digests_change_with_content_only(package):
    before = code_digests(package / "script.py", package / "pkg")
    (package / "pkg" / "unused.py").write_text("CHANGED = 1\n")
    os.utime(package / "pkg" / "d.py", (0, 0))  # touched, same content
    assert code_digests(package / "script.py", package / "pkg") == before
    (package / "pkg" / "d.py").write_text("VALUE = 2\n")
    after = code_digests(package / "script.py", package / "pkg")
    assert {m for m in after if after[m] != before[m]} == {"pkg.d"}


def test_digest_counts_code_not_comments_docstrings_or_layout(tmp_path):
    """Comments, docstrings (module, class, function) and formatting leave the digest alone;
    a changed constant, a string that is not a docstring or a new statement change it."""
    module = tmp_path / "m.py"

    def digest(text):
        module.write_text(text)
        return code_digest(module)

    base = digest('"""Doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    same = [
        '"""Other doc."""\n# a comment\n\ndef f( x ):  # why\n    """Other."""\n    return (x+1)\n',
        "def f(x):\n    return x + 1\n",
    ]
    assert {digest(text) for text in same} == {base}
    changed = [
        '"""Doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 2\n',
        '"""Doc."""\n\n\ndef f(x):\n    s = "Doc."\n    return x + 1\n',
        '"""Doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 1\n\n\nY = 0\n',
        '"""Doc."""\n\n\nclass f:\n    """Doc."""\n',
    ]
    assert base not in {digest(text) for text in changed}
    assert len({digest(text) for text in changed}) == len(changed)


def test_no_code_reads_a_docstring():
    """The digests ignore docstrings (`code_digest`), which is sound only while no module or
    script of the pipeline reads one at run time (`__doc__`, `inspect.getdoc`)."""
    root = Path(nncosmo.__file__).parents[2]
    sources = [*Path(nncosmo.__file__).parent.glob("*.py"), *(root / "scripts").glob("*.py")]
    assert len(sources) > 20

    def reads_docstring(node):
        name = getattr(node, "attr", getattr(node, "id", None))
        return isinstance(node, ast.Attribute | ast.Name) and name in {"__doc__", "getdoc"}

    readers = [
        p.name for p in sources if any(map(reads_docstring, ast.walk(ast.parse(p.read_text()))))
    ]
    assert not readers


FIGURES = {"figures_1", "figures_2"}  # the tiny preset's two rendering jobs (figures.jobs)
# Which rules a dry run schedules after an edit to one module (manifest and all always follow).
EDITS = {
    "duality.py": {"duality", "claims", *FIGURES},
    "figures.py": FIGURES,
    # training imports ntk.py too (the initial eigenvectors for the kappa_a(n) measurement), and
    # so does simulate (the initial NTK of the reverse direction)
    "ntk.py": {"train", "ntk", "cosmology", "duality", "simulate", "claims", *FIGURES},
}


def scheduled_rules(output: str) -> set[str]:
    """Rule names in the job-stats table of a dry run."""
    rows = (line.split() for line in output.splitlines())
    return {row[0] for row in rows if len(row) == 2 and row[1].isdigit() and row[0] != "total"}


@pytest.fixture
def user_with_own_code(tmp_path, finished_tiny_run):
    """A finished run's directory and a copy of the imported nncosmo first on PYTHONPATH."""
    workdir = tmp_path / "user"
    shutil.copytree(finished_tiny_run, workdir, symlinks=True)
    shutil.copytree(Path(nncosmo.__file__).parent, tmp_path / "src" / "nncosmo")
    return workdir, tmp_path / "src" / "nncosmo", {"PYTHONPATH": str(tmp_path / "src")}


def reversed_blocks(value):
    """`value` with the keys of every mapping whose values hold no mapping in reverse order."""
    if not isinstance(value, dict):
        return value
    if any(isinstance(v, dict) for v in value.values()):
        return {k: reversed_blocks(v) for k, v in value.items()}
    return dict(reversed(value.items()))


def test_same_code_elsewhere_or_touched_reruns_nothing(user_with_own_code):
    """Modules and rule scripts touched (as a checkout or a copy without mtimes leaves them), a
    comment added to each, and the config rewritten with the keys of every settings block (a
    mapping of plain values, e.g. `training`, a data set's spec) in reverse order: nothing to do."""
    workdir, package, env = user_with_own_code
    for path in [*package.glob("*.py"), *(workdir / "scripts").glob("*.py")]:
        with open(path, "a") as handle:
            handle.write("# a comment\n")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump(reversed_blocks(config), sort_keys=False))
    assert "Nothing to be done" in run_readme_command(workdir, "-n", env=env)


def test_script_edit_reruns_its_rule_and_what_reads_it(user_with_own_code):
    workdir, _, env = user_with_own_code
    with open(workdir / "scripts" / "duality.py", "a") as handle:
        handle.write("EDITED = True\n")
    output = run_readme_command(workdir, "-n", "--quiet", "rules", env=env)
    assert scheduled_rules(output) == {*EDITS["duality.py"], "manifest", "all"}, output[-3000:]


HISTORIES = ["history_de_sitter", "history_radiation", "history_matter", "history_nesterov"]


@pytest.mark.parametrize(
    ("setting", "rules"),
    [
        # F4 alone reads the reference: only its job (F2, F4, F6, F8) re-renders; claims re-measure
        ({"reference": {"eta": 0.2, "beta": 0.5}}, {"figures_2", "claims"}),
        # F7 alone reads the histories (here the same sweeps in another order)
        ({"histories": [*HISTORIES[::-1], "history_friedmann"]}, {"figures_1", "claims"}),
        # every figure reads dpi; the claims do not
        ({"dpi": 81}, {"figures_1", "figures_2"}),
    ],
)
def test_figure_setting_reruns_the_jobs_drawing_a_figure_that_reads_it(
    tmp_path, finished_tiny_run, setting, rules
):
    """README's command, with a figures.* setting changed in a --configfile, in a finished run."""
    workdir = tmp_path / "user"
    shutil.copytree(finished_tiny_run, workdir, symlinks=True)
    (tmp_path / "change.yaml").write_text(yaml.safe_dump({"figures": setting}))
    output = run_readme_command(
        workdir, "-n", "--quiet", "rules", "--configfile", str(tmp_path / "change.yaml")
    )
    assert scheduled_rules(output) == {*rules, "manifest", "all"}, output[-3000:]


@pytest.mark.parametrize("module", list(EDITS))
def test_library_edit_reruns_exactly_the_rules_that_import_it(user_with_own_code, module):
    workdir, package, env = user_with_own_code
    with open(package / module, "a") as handle:
        handle.write("EDITED = True\n")
    output = run_readme_command(workdir, "-n", "--quiet", "rules", env=env)
    assert scheduled_rules(output) == {*EDITS[module], "manifest", "all"}, output[-3000:]


def test_rule_code_gives_each_script_its_own_digest_and_its_modules(package):
    """The Snakefile's CODE: per script file name, the script's digest, then its modules'."""
    scripts = [package / "script.py", package / "other.py"]
    code = rule_code(scripts, package / "pkg")
    assert sorted(code) == ["other.py", "script.py"]
    assert list(code["script.py"]) == ["script", "pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"]
    with open(package / "script.py", "a") as handle:
        handle.write("EDITED = True\n")
    edited = rule_code(scripts, package / "pkg")
    assert edited["script.py"]["script"] != code["script.py"]["script"]
    assert {k: v for k, v in edited["script.py"].items() if k != "script"} == {
        k: v for k, v in code["script.py"].items() if k != "script"
    }
    assert edited["other.py"] == code["other.py"]
