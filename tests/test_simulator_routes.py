"""The simulator answers the routes it is given: `simulator.routes.api()` mounts every endpoint module, and
importing a module registers nothing anywhere else."""

from __future__ import annotations

from pathlib import Path

from demo_org import FULL_TOKEN

from simulator import Simulator, routes
from simulator.http import Request, Router


def get(sim: Simulator, path: str) -> int:
    return sim.handle(Request.build("GET", path, "", {"authorization": f"Token token={FULL_TOKEN}"}, b"")).status


def test_every_endpoint_module_is_mounted():
    modules = {path.stem for path in Path(routes.__file__).parent.glob("*.py") if path.stem != "__init__"}
    assert {part.__name__.rpartition(".")[2] for part in routes.PARTS} == modules
    mounted = [(route.method, route.pattern) for route in routes.api().routes]
    assert mounted == [(route.method, route.pattern) for part in routes.PARTS for route in part.ROUTES.routes]
    assert len(set(mounted)) == len(mounted)


def test_a_simulator_answers_only_the_routes_it_is_given(sim, clock):
    assert get(sim, "/users") == 200
    bare = Simulator(sim.state, clock, router=Router())
    assert get(bare, "/users") == 404
    users_only = Router()
    users_only.include(routes.directory.ROUTES)
    assert get(Simulator(sim.state, clock, router=users_only), "/users") == 200
    assert get(Simulator(sim.state, clock, router=users_only), "/incidents") == 404
