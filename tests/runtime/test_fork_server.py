"""Fork servers: execution environments forked from an interpreter that has the layers' heavy
libraries imported (issue 10, cold starts). Forking must give a function exactly what a fresh
interpreter would: each case below compares a forked environment with a fresh one
(``fork_server=False``) or with what Lambda would do. Real processes, real pyarrow.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from etl_local import lambda_host
from etl_local.asl.tasks import LambdaFunctionFailed
from etl_local.lambda_host import LambdaHost
from etl_local.sam_template import FunctionDef

from .conftest import exits_soon

CURRENT = f"python{sys.version_info.major}.{sys.version_info.minor}"

REPORT = ("import os, sys\nLOADED = sorted(name for name in sys.modules if '.' not in name)\n\n"
          "def handler(event, context):\n"
          "    import pyarrow, yaml\n"
          "    return {'loaded_at_import': [m for m in ('duckdb', 'pyarrow', 'yaml') if m in LOADED],\n"
          "            'pool': pyarrow.default_memory_pool().backend_name, 'yaml': getattr(yaml, 'OWN', None),\n"
          "            'ppid': os.getppid(), 'flag': os.environ.get('ARROW_DEFAULT_MEMORY_POOL')}\n")


def _layer(root: Path, requirements: str) -> Path:
    layer = root / "layer"
    layer.mkdir(parents=True, exist_ok=True)
    (layer / "requirements.txt").write_text(requirements)
    return layer


def _function(root: Path, name: str, layer: Path, env: dict[str, str] | None = None, code: str = REPORT) -> FunctionDef:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(code)
    return FunctionDef(name, folder, "app.handler", CURRENT, 60, 256, env or {}, [layer])


@pytest.fixture(autouse=True)
def _own_fork_servers(tmp_path: Path):
    yield
    lambda_host.stop_zygotes(tmp_path)  # the servers of this test's layers; others' stay


def test_environments_fork_from_a_server_holding_only_what_the_layer_provides(tmp_path: Path) -> None:
    """The layer's requirements (pyarrow, PyYAML) are imported before the handler; a function's own
    dependency (DuckDB, in its requirements.txt) is not, although the venv has it."""
    layer = _layer(tmp_path, "pyarrow==26.0.1\nPyYAML==6.0.3  # specs\n")
    fn = _function(tmp_path, "Fn", layer)
    (fn.code_uri / "requirements.txt").write_text("duckdb==2.0.1\n")
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs") as host:
        assert host.preload(fn) == ["pyarrow", "pyarrow.parquet", "pyarrow.compute", "pyarrow.csv", "pyarrow.fs",
                                    "pyarrow.dataset", "yaml"]
        forked = host.value("Fn", {})
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs", fork_server=False) as host:
        fresh = host.value("Fn", {})
    assert forked["loaded_at_import"] == ["pyarrow", "yaml"]
    assert fresh["loaded_at_import"] == []
    assert forked["ppid"] != os.getpid() and fresh["ppid"] == os.getpid()  # forked: the server is its parent
    assert forked["pool"] == fresh["pool"]


def test_a_variable_the_preload_reads_gets_the_functions_value(tmp_path: Path) -> None:
    """pyarrow chooses its memory pool from ARROW_DEFAULT_MEMORY_POOL while importing: a function
    setting it is forked from a server started with its value (the variable is in the server's key)."""
    layer = _layer(tmp_path, "pyarrow\n")
    functions = {"Plain": _function(tmp_path, "Plain", layer),
                 "System": _function(tmp_path, "System", layer, {"ARROW_DEFAULT_MEMORY_POOL": "system"})}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs") as host:
        forked = {name: host.value(name, {}) for name in functions}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs", fork_server=False) as host:
        fresh = {name: host.value(name, {}) for name in functions}
    assert forked["System"]["pool"] == fresh["System"]["pool"] == "system"
    assert forked["Plain"]["pool"] == fresh["Plain"]["pool"] != "system"
    assert forked["System"]["ppid"] != forked["Plain"]["ppid"]  # two servers, one per value
    assert forked["Plain"]["flag"] is None


def test_the_servers_key_holds_the_c_libraries_namespaces() -> None:
    """A server cannot trace what C code reads: whole namespaces (Arrow's, the allocators', OpenSSL's) key it."""
    env = {"ARROW_IO_THREADS": "2", "MALLOC_ARENA_MAX": "2", "LD_PRELOAD": "x.so", "PATH": "/bin",
           "LAKE_URI": "file:///lake", "POWERTOOLS_SERVICE_NAME": "extract", "AWS_LAMBDA_FUNCTION_NAME": "Extract"}
    assert lambda_host.zygote_environment(env) == {"ARROW_IO_THREADS": "2", "MALLOC_ARENA_MAX": "2",
                                                   "LD_PRELOAD": "x.so", "PATH": "/bin"}


def test_a_variable_read_at_import_outside_the_key_sends_the_function_to_a_fresh_interpreter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server records what the preload read; a function whose value differs is not forked."""
    layer = _layer(tmp_path, "reads-env\n")
    (layer / "reads_env.py").write_text("import os\nFLAG = os.environ.get('READS_ENV_FLAG', 'unset')\n")
    monkeypatch.setitem(lambda_host.PRELOAD, "reads_env", "reads-env")
    code = "import os, reads_env\n\ndef handler(event, context):\n    return [reads_env.FLAG, os.getppid()]\n"
    functions = {"Unset": _function(tmp_path, "Unset", layer, code=code),
                 "Set": _function(tmp_path, "Set", layer, {"READS_ENV_FLAG": "on"}, code=code)}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs") as host:
        unset_flag, unset_parent = host.value("Unset", {})
        set_flag, set_parent = host.value("Set", {})
    assert (unset_flag, set_flag) == ("unset", "on")
    assert unset_parent != os.getpid() and set_parent == os.getpid()


def test_a_function_shipping_its_own_copy_of_a_layer_package_gets_its_own(tmp_path: Path) -> None:
    """Lambda puts the function's folder before its layers: its own yaml wins over the preloaded one,
    and so does its own copy of a standard module the preload imported (pyarrow imports ``platform``)."""
    layer = _layer(tmp_path, "PyYAML\npyarrow\n")
    fn = _function(tmp_path, "Own", layer)
    (fn.code_uri / "yaml.py").write_text("OWN = 'the function s own yaml'\n")
    stdlib = _function(tmp_path, "OwnPlatform", layer, code="import platform, os\n\ndef handler(event, context):\n"
                                                            "    return [getattr(platform, 'OWN', None), os.getppid()]\n")
    (stdlib.code_uri / "platform.py").write_text("OWN = 'the function s own platform'\n")
    other = _function(tmp_path, "Other", layer)
    with LambdaHost({"Own": fn, "OwnPlatform": stdlib, "Other": other}, lambda name: {}, tmp_path / "logs") as host:
        assert host.value("Own", {})["yaml"] == "the function s own yaml"
        assert host.value("OwnPlatform", {}) == ["the function s own platform", os.getpid()]
        assert host.value("Other", {})["yaml"] is None


def test_one_server_serves_every_host_of_the_process_and_exits_with_it(tmp_path: Path) -> None:
    """Hosts (one per LocalRuntime) share the server of a layer set; when the process exits without
    closing anything, the server and its environments exit too."""
    layer = _layer(tmp_path, "PyYAML\n")
    fn = _function(tmp_path, "Fn", layer)
    with LambdaHost({"Fn": fn}, lambda name: {}) as first, LambdaHost({"Fn": fn}, lambda name: {}) as second:
        assert first.value("Fn", {})["ppid"] == second.value("Fn", {})["ppid"] != os.getpid()
    script = (
        "import json, os\nfrom pathlib import Path\nfrom etl_local.lambda_host import LambdaHost\n"
        "from etl_local.sam_template import FunctionDef\n"
        f"fn = FunctionDef('Fn', Path({str(fn.code_uri)!r}), 'app.handler', {CURRENT!r}, 30, 128, {{}}, [Path({str(layer)!r})])\n"
        "host = LambdaHost({'Fn': fn}, lambda name: {})\n"
        "result = host.value('Fn', {})\n"
        "print(json.dumps([result['ppid'], os.getpid()]), flush=True)\n"
        "os._exit(0)  # no close, no atexit: the server and the environment must notice by themselves\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    server, parent = json.loads(out.stdout)
    assert server != parent
    assert exits_soon(server)


SESSION = ("import os, time\n\ndef handler(event, context):\n    time.sleep(event['sleep'])\n"
           "    return {'pid': os.getpid(), 'sid': os.getsid(0), 'pgid': os.getpgid(0), 'ppid': os.getppid()}\n")


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh"])
def test_each_environment_leads_a_session_of_its_own(tmp_path: Path, fork_server: bool) -> None:
    """Two concurrent environments, forked or fresh, each lead their own session (and so their own
    process group, which the host kills): with the kernel's autogroup scheduling a session is one
    CPU share, so one environment's threads do not take another's share, as separate Lambda
    sandboxes do not. (A forked environment used to stay in the server's session: one share for all.)"""
    fn = _function(tmp_path, "Fn", _layer(tmp_path, "PyYAML\n"), code=SESSION)
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs", fork_server=fork_server) as host, \
            ThreadPoolExecutor(2) as pool:
        envs = list(pool.map(lambda _: host.value("Fn", {"sleep": 1.0}), range(2)))
    assert envs[0]["pid"] != envs[1]["pid"]  # two environments at once
    for env in envs:
        assert env["sid"] == env["pgid"] == env["pid"]
        assert env["sid"] != os.getsid(0) and env["sid"] != os.getsid(env["ppid"])  # not the host's, nor the server's


ALLOCATE = ("import os, resource\nimport pyarrow.compute as pc\n\n"
            "def rss():\n    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') >> 20\n\n"
            "def handler(event, context):\n"
            "    if event['allocate']:\n"
            "        values = pc.random(40_000_000)  # 320 MB from Arrow's pool, freed on return\n"
            "        return {'rss': rss(), 'sum': pc.sum(values).as_py() > 0}\n"
            "    return {'rss': rss(), 'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10}\n")


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh"])
def test_an_idle_environment_gives_back_what_its_allocator_holds_free(tmp_path: Path, fork_server: bool) -> None:
    """Between invocations an environment returns the pages Arrow's allocator keeps for reuse (the
    local machine holds every warm environment at once; Lambda gives each its own memory), while
    its peak, Lambda's Max Memory Used, still counts them."""
    fn = _function(tmp_path, "Fn", _layer(tmp_path, "pyarrow\n"), code=ALLOCATE)
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs", fork_server=fork_server) as host:
        busy = host.value("Fn", {"allocate": True})
        idle = host.value("Fn", {"allocate": False})
    assert busy["rss"] > 300 and busy["sum"]
    assert idle["rss"] < busy["rss"] - 250
    assert idle["peak"] >= busy["rss"]


COLLECT = ("import gc\n\ndef private_mb():\n    with open('/proc/self/smaps_rollup') as rollup:\n"
           "        return sum(int(line.split()[1]) for line in rollup if line.startswith('Private_Dirty:')) >> 10\n\n"
           "def handler(event, context):\n    before = private_mb()\n    gc.collect()\n"
           "    return {'copied_mb': private_mb() - before}\n")


def test_a_full_collection_in_a_forked_environment_leaves_the_servers_pages_shared(tmp_path: Path) -> None:
    """The server freezes what its preload created (``gc.freeze``) before it forks: a collection in
    an environment then walks only the environment's own objects, instead of writing to the header
    of every preloaded one and so copying the pages the environments share with the server (about
    7 MB with pyarrow and PyYAML preloaded, for every warm environment of a run)."""
    fn = _function(tmp_path, "Fn", _layer(tmp_path, "pyarrow\nPyYAML\n"), code=COLLECT)
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs") as host:
        assert host.preload(fn)
        copied = [host.value("Fn", {})["copied_mb"] for _ in range(2)]
    assert max(copied) <= 2, copied


POOLS = ("import os, threading\nimport pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as csv\n\n"
         "def native():\n    return len(os.listdir('/proc/self/task')) - threading.active_count()\n\n"
         "def handler(event, context):\n    idle = native()\n"
         "    if event['work']:\n"
         "        text = ''.join(f'{i},{i * 7 % 1000}\\n' for i in range(400_000)).encode()\n"
         "        csv.read_csv(pa.BufferReader(b'a,b\\n' + text), read_options=csv.ReadOptions(block_size=1 << 16))\n"
         "    return {'idle': idle, 'busy': native(), 'pools': [pa.cpu_count(), pa.io_thread_count()]}\n")


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh"])
def test_an_idle_environment_ends_the_arrow_pool_threads_it_no_longer_needs(tmp_path: Path, fork_server: bool) -> None:
    """Between invocations the surplus threads of Arrow's CPU and I/O pools exit (their allocator
    pages go back with them: see lambda_worker._IdlePools), the pools keep their sizes, and
    the next invocation's work starts threads again."""
    fn = _function(tmp_path, "Fn", _layer(tmp_path, "pyarrow\n"), code=POOLS)
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs", fork_server=fork_server) as host:
        first = host.value("Fn", {"work": True})
        second = host.value("Fn", {"work": True})
        third = host.value("Fn", {"work": False})
    assert first["busy"] >= first["idle"] + 2  # the CSV reader ran on more than one pool thread
    assert second["idle"] < first["busy"] and third["idle"] < second["busy"]  # some ended while idle
    assert second["busy"] > second["idle"]  # and the next invocation's work started them again
    assert first["pools"] == second["pools"] == third["pools"]


def test_from_the_build_the_server_preloads_what_the_layer_folder_holds(tmp_path: Path) -> None:
    """--from-build: a preload candidate is the layer's when its package is in the layer's python/ folder."""
    build = tmp_path / ".aws-sam" / "build"
    (build / "Layer" / "python" / "yaml").mkdir(parents=True)
    (build / "Layer" / "python" / "yaml" / "__init__.py").write_text("OWN = 'the layer s yaml'\n")
    (build / "Fn").mkdir(parents=True)
    (build / "Fn" / "app.py").write_text("import os, sys\nAT_IMPORT = 'yaml' in sys.modules\n\n"
                                         "def handler(event, context):\n    import yaml\n"
                                         "    return [AT_IMPORT, yaml.OWN, os.getppid()]\n")
    fn = FunctionDef("Fn", tmp_path / "src", "app.handler", "python3.12", 30, 128, {}, [],
                     build_dir=build / "Fn", layer_build_dirs=[build / "Layer"])
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs", from_build=True,
                    runtime_dir=tmp_path / "runtime", warn=lambda message: None) as host:
        assert host.preload(fn) == ["yaml"]
        at_import, own, parent = host.value("Fn", {})
    assert (at_import, own) == (True, "the layer s yaml") and parent != os.getpid()


def test_enforced_memory_starts_a_fresh_interpreter(tmp_path: Path) -> None:
    """The address-space limit must hold while the libraries load, so no server's preload counts against it."""
    layer = _layer(tmp_path, "PyYAML\n")
    fn = _function(tmp_path, "Fn", layer)
    with LambdaHost({"Fn": fn}, lambda name: {}, tmp_path / "logs", enforce_memory=True) as host:
        result = host.value("Fn", {})
    assert result["ppid"] == os.getpid() and result["loaded_at_import"] == []


def test_a_layer_library_that_fails_to_import_leaves_the_functions_to_fresh_interpreters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server (its preload raised): each environment starts a fresh interpreter, which then
    fails only if the function itself imports the broken library, as on Lambda."""
    layer = _layer(tmp_path, "broken\n")
    (layer / "broken.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.setitem(lambda_host.PRELOAD, "broken", "broken")
    functions = {"Fine": _function(tmp_path, "Fine", layer, code="import os\n\ndef handler(event, context):\n"
                                                                  "    return os.getppid()\n"),
                 "Uses": _function(tmp_path, "Uses", layer, code="import broken\n\ndef handler(event, context):\n"
                                                                  "    return 1\n")}
    with LambdaHost(functions, lambda name: {}, tmp_path / "logs") as host:
        assert host.value("Fine", {}) == os.getpid()
        with pytest.raises(LambdaFunctionFailed) as failed:
            host.value("Uses", {})
    body = failed.value.body
    assert (body["errorType"], body["errorMessage"]) == ("RuntimeError", "broken at import")
