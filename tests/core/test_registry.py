import pytest

from vbench.registry import MODELS, TASKS
from vbench.registry.core import Registry, UnknownNameError


def test_lazy_entries_aliases_and_suggestions():
    reg = Registry("widget")
    reg.register("alpha_widget", "json:dumps", "dump json", aliases=("aw",))
    assert reg.get("aw") is reg.get("alpha_widget")
    import json

    assert reg.get("alpha_widget") is json.dumps
    with pytest.raises(UnknownNameError) as err:
        reg.get("alpha_widgte")
    assert "Did you mean 'alpha_widget'" in str(err.value)
    with pytest.raises(ValueError):
        reg.register("aw", "json:loads")


def test_builtin_registries_resolve():
    assert TASKS.get("aggressiveness_rating").name == "aggressiveness_rating"
    assert MODELS.get("hf").backend == "hf"
    with pytest.raises(UnknownNameError, match="Did you mean"):
        TASKS.resolve("aggresiveness_rating")


def test_entry_point_plugins_are_registered(monkeypatch):
    from importlib.metadata import EntryPoint

    import vbench.registry.core as core

    ep = EntryPoint(name="my_task", value="json:loads", group="vbench.tasks")
    monkeypatch.setattr(core, "entry_points", lambda group: [ep] if group == "vbench.tasks" else [])
    reg = Registry("task", entry_point_group="vbench.tasks")
    import json

    assert reg.get("my_task") is json.loads
    assert [e.name for e in reg.entries()] == ["my_task"]
