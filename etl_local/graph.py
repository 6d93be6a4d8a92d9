"""An execution drawn as the Step Functions console draws it: the state machine as a graph,
each state coloured by what happened to it, from the execution's history.

Pure functions of (definition, history): `etl serve` renders them for the browser and
`etl graph EXECUTION --out FILE` writes the same picture as a standalone SVG or HTML file.
The layout is a hand-written layered one (no JavaScript library, nothing fetched): states are
ranked by their longest path from StartAt (back edges ignored), placed row by row, and a Map
or Parallel is a box holding its item processor or branches, laid out the same way.
"""
from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from typing import Any

from etl_local.reachable import transitions

NODE_W, NODE_H = 180, 38
GAP_X, GAP_Y = 26, 44
PAD, HEADER = 14, 28
MARGIN = 20

STATUSES = ("succeeded", "failed", "caught", "in_progress", "not_reached")
LABELS = {"succeeded": "Succeeded", "failed": "Failed", "caught": "Caught error", "in_progress": "In progress",
          "not_reached": "Not reached"}
FILL = {"succeeded": "#e6f4ea", "failed": "#fce8e6", "caught": "#fef3e0", "in_progress": "#e3f0fd", "not_reached": "#f4f4f4"}
STROKE = {"succeeded": "#1e8e3e", "failed": "#d93025", "caught": "#e37400", "in_progress": "#1a73e8", "not_reached": "#9aa0a6"}
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


# -- what happened to each state -----------------------------------------------------------
@dataclass
class StateRun:
    """One state's story in an execution (its latest visit for input/output/error)."""

    name: str
    entered: int = 0
    exited: int = 0
    attempts: int = 0
    failures: int = 0
    input: str | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    last_failed: bool = False
    status: str = "not_reached"

    @property
    def retries(self) -> int:
        return max(self.attempts - self.entered, 0)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "input": self.input, "output": self.output,
                "error": self.error, "cause": self.cause, "retries": self.retries, "entered": self.entered}


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _enclosing(event: dict[str, Any], by_id: dict[int, dict[str, Any]], kind: str) -> str | None:
    """The Map or Parallel state a ``MapState*``/``ParallelState*`` event belongs to.

    Walks back the previousEventId chain (which runs through the iterations or branches) to
    the ``<kind>StateEntered`` it closes, skipping nested states of the same kind.
    """
    depth = 0
    current = by_id.get(event.get("previousEventId") or 0)
    while current is not None:
        if current["type"] == f"{kind}StateExited":
            depth += 1
        elif current["type"] == f"{kind}StateEntered":
            if depth == 0:
                return current["stateEnteredEventDetails"]["name"]
            depth -= 1
        current = by_id.get(current.get("previousEventId") or 0)
    return None


def state_runs(events: list[dict[str, Any]], running: bool) -> tuple[dict[str, StateRun], dict[int, str]]:
    """Each entered state's StateRun, and the state each event belongs to (by its previousEventId chain)."""
    runs: dict[str, StateRun] = {}
    owner: dict[int, str] = {}
    ordered = sorted(events, key=lambda e: e["id"])
    by_id = {event["id"]: event for event in ordered}
    for event in ordered:
        kind, details = event["type"], _details(event)
        if kind.endswith("StateEntered"):
            name = details["name"]
            owner[event["id"]] = name
            run = runs.setdefault(name, StateRun(name))
            run.entered += 1
            run.input, run.last_failed = details.get("input"), False
            continue
        if kind.startswith("Execution"):
            continue
        if kind.endswith("StateExited"):
            name = details.get("name")
        elif kind.startswith(("MapState", "ParallelState")):
            name = _enclosing(event, by_id, "Map" if kind.startswith("Map") else "Parallel")
        else:
            name = owner.get(event.get("previousEventId") or 0)
        if name is None or name not in runs:
            continue
        owner[event["id"]] = name
        run = runs[name]
        if kind.endswith("StateExited"):
            run.exited += 1
            run.output = details.get("output")
        elif kind.endswith("Scheduled") or kind in ("MapStateStarted", "ParallelStateStarted"):
            run.attempts += 1
        elif kind.endswith(_FAILURE_SUFFIXES) and not kind.startswith(("MapIteration", "MapRun")):
            run.failures += 1
            run.last_failed = True
            run.error, run.cause = details.get("error"), details.get("cause")
    for run in runs.values():
        if run.exited < run.entered:
            run.status = "in_progress" if running else "failed"
        elif run.last_failed:
            run.status = "caught"
        else:
            run.status = "succeeded"
    return runs, owner


# -- layout --------------------------------------------------------------------------------
@dataclass
class Box:
    """A laid-out state: its place, and for Map/Parallel the boxes inside."""

    name: str
    kind: str
    x: float = 0
    y: float = 0
    w: float = NODE_W
    h: float = NODE_H
    children: list["Box"] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, kind) inside this box

    def move(self, dx: float, dy: float) -> None:
        self.x += dx
        self.y += dy
        for child in self.children:
            child.move(dx, dy)


def _ranks(program: dict[str, Any]) -> dict[str, int]:
    """Each state's row: the longest path to it over edges that go down the definition.

    People write States top-down (main path, then the error path), so an edge to a state
    written earlier is drawn as a loop back (a re-attempt) and the rest is a DAG whose longest
    paths give rows; catch edges are edges too, which puts an error handler below what it catches.
    """
    states = program.get("States", {})
    index = {name: position for position, name in enumerate(states)}
    rank = {name: 0 for name in states}
    for name in states:  # definition order is a topological order of the forward edges
        for target, _ in transitions(states[name]):
            if target in states and index[target] > index[name]:
                rank[target] = max(rank[target], rank[name] + 1)
    return rank


def _order_rows(rows: dict[int, list[str]], states: dict[str, Any]) -> None:
    """Order each row by where its states' predecessors sit (the barycenter heuristic): fewer crossings."""
    predecessors: dict[str, list[str]] = {name: [] for name in states}
    for name, state in states.items():
        for target, kind in transitions(state):
            if target in predecessors and kind != "catch":
                predecessors[target].append(name)
    position: dict[str, float] = {}
    for index in sorted(rows):
        row = rows[index]
        original = {name: column for column, name in enumerate(row)}

        def key(name: str) -> float:
            placed = [position[p] for p in predecessors[name] if p in position]
            return sum(placed) / len(placed) if placed else float(len(position) + original[name])

        row.sort(key=key)
        for column, name in enumerate(row):
            position[name] = column - (len(row) - 1) / 2


def layout(program: dict[str, Any]) -> Box:
    """Lay out a StartAt+States block; the returned box holds one child per state, placed from (0, 0)."""
    states = program.get("States", {})
    boxes: dict[str, Box] = {}
    for name, state in states.items():
        kind = state.get("Type", "?")
        box = Box(name, kind)
        inner = []
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            inner = [layout(processor)] if isinstance(processor, dict) else []
        elif kind == "Parallel":
            inner = [layout(branch) for branch in state.get("Branches", []) if isinstance(branch, dict)]
        if inner:
            x = PAD
            for block in inner:
                block.move(x, HEADER)
                x += block.w + GAP_X
            box.w = max(NODE_W, x - GAP_X + PAD)
            box.h = HEADER + max(block.h for block in inner) + PAD
            box.children = inner
        boxes[name] = box
    rank = _ranks(program)
    rows: dict[int, list[str]] = {}
    for name in states:
        rows.setdefault(rank[name], []).append(name)
    _order_rows(rows, states)
    width = max((sum(boxes[n].w for n in row) + GAP_X * (len(row) - 1) for row in rows.values()), default=NODE_W)
    y = 0.0
    for index in sorted(rows):
        row = rows[index]
        row_w = sum(boxes[n].w for n in row) + GAP_X * (len(row) - 1)
        x = (width - row_w) / 2
        for name in row:
            boxes[name].move(x, y)
            x += boxes[name].w + GAP_X
        y += max(boxes[n].h for n in row) + GAP_Y
    block = Box("", "Block", 0, 0, width, max(y - GAP_Y, NODE_H))
    block.children = [boxes[name] for name in states]
    block.edges = [(name, target, kind) for name, state in states.items()
                   for target, kind in transitions(state) if target in states]
    return block


# -- SVG -----------------------------------------------------------------------------------
def _edge_path(a: Box, b: Box, right: float) -> str:
    if b.y > a.y + a.h - 1:  # forward: bottom of a to top of b
        x1, y1, x2, y2 = a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y
        mid = (y1 + y2) / 2
        return f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
    x1, y1, x2, y2 = a.x + a.w, a.y + a.h / 2, b.x + b.w, b.y + b.h / 2  # back: around the right side
    return f"M{x1:.0f},{y1:.0f} C{right:.0f},{y1:.0f} {right:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"


def _svg_block(block: Box, runs: dict[str, StateRun], out: list[str]) -> None:
    by_name = {box.name: box for box in block.children}
    right = block.x + block.w + 18
    for source, target, kind in block.edges:
        a, b = by_name[source], by_name[target]
        cls = f"edge edge-{kind}"
        out.append(f'<path class="{cls}" d="{_edge_path(a, b, right)}" marker-end="url(#arrow)"/>')
    for box in block.children:
        run = runs.get(box.name)
        status = run.status if run else "not_reached"
        name = html.escape(box.name)
        title = f"{box.name} ({box.kind}): {LABELS[status]}"
        if run and run.retries:
            title += f", {run.retries} retr{'y' if run.retries == 1 else 'ies'}"
        out.append(f'<g class="state s-{status}" data-state="{name}" data-status="{status}" data-type="{box.kind}">'
                   f"<title>{html.escape(title)}</title>")
        if box.children:
            out.append(f'<rect class="container" x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" '
                       f'rx="8" fill="{FILL[status]}" fill-opacity="0.35" stroke="{STROKE[status]}" stroke-dasharray="5 3"/>')
            out.append(f'<text class="label" x="{box.x + 10:.0f}" y="{box.y + 18:.0f}">{name} '
                       f'<tspan class="kind">{box.kind}</tspan></text>')
            out.append("</g>")
            for child in box.children:
                _svg_block(child, runs, out)
            continue
        shape_rx = NODE_H / 2 if box.kind in ("Choice", "Succeed", "Fail") else 6
        out.append(f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" rx="{shape_rx:.0f}" '
                   f'fill="{FILL[status]}" stroke="{STROKE[status]}" stroke-width="2"/>')
        label = box.name if len(box.name) <= 22 else box.name[:21] + "…"
        out.append(f'<text class="label" x="{box.x + box.w / 2:.0f}" y="{box.y + box.h / 2 + 5:.0f}" '
                   f'text-anchor="middle">{html.escape(label)}</text>')
        if run and run.retries:
            out.append(f'<text class="badge" x="{box.x + box.w - 6:.0f}" y="{box.y + 12:.0f}" text-anchor="end">'
                       f"↻{run.retries}</text>")
        out.append("</g>")


SVG_STYLE = """
.edge{fill:none;stroke:#5f6368;stroke-width:1.4}
.edge-catch{stroke:#e37400;stroke-dasharray:4 3;stroke-width:1.1;opacity:.7}
.label{font:13px system-ui,-apple-system,'Segoe UI',sans-serif;fill:#202124}
.kind{font-size:11px;fill:#5f6368}
.badge{font:bold 11px system-ui,sans-serif;fill:#e37400}
.state{cursor:pointer}
.state.selected rect{stroke-width:4}
"""


def render_svg(definition: dict[str, Any], events: list[dict[str, Any]], running: bool, *, standalone: bool = False,
               title: str | None = None) -> str:
    """The state machine as SVG, states coloured by the history (``standalone``: with legend and title)."""
    runs, _ = state_runs(events, running)
    block = layout(definition)
    top = MARGIN + (40 if standalone else 0)
    block.move(MARGIN, top)
    out: list[str] = []
    _svg_block(block, runs, out)
    width = block.w + 2 * MARGIN + 40
    height = top + block.h + MARGIN + (30 if standalone else 0)
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}">',
            f"<style>{SVG_STYLE}</style>",
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6368"/></marker></defs>']
    if standalone:
        head.append(f'<text class="label" x="{MARGIN}" y="{MARGIN + 8}" font-weight="bold">{html.escape(title or "")}</text>')
        x = MARGIN
        for status in STATUSES:
            head.append(f'<rect x="{x}" y="{height - 30}" width="14" height="14" rx="3" fill="{FILL[status]}" '
                        f'stroke="{STROKE[status]}" stroke-width="2"/>'
                        f'<text class="label" x="{x + 20}" y="{height - 18}">{LABELS[status]}</text>')
            x += 130
    return "\n".join(head + out + ["</svg>"])


# -- HTML ----------------------------------------------------------------------------------
def _when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def duration(description: dict[str, Any]) -> str:
    start = dt.datetime.fromisoformat(description["startDate"])
    stop = description.get("stopDate")
    end = dt.datetime.fromisoformat(stop) if stop and description["status"] != "RUNNING" else dt.datetime.now(dt.timezone.utc)
    seconds = max((end - start).total_seconds(), 0.0)
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


PAGE_STYLE = """
body{font:14px system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#202124;background:#fff}
header{padding:12px 20px;border-bottom:1px solid #dadce0;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0} a{color:#1a73e8;text-decoration:none}
main{padding:12px 20px}
.status{font-weight:600;padding:2px 8px;border-radius:10px}
.st-SUCCEEDED{background:#e6f4ea;color:#1e8e3e}.st-FAILED,.st-TIMED_OUT,.st-ABORTED{background:#fce8e6;color:#d93025}
.st-RUNNING{background:#e3f0fd;color:#1a73e8}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;
border:2px solid;vertical-align:-2px;margin-right:4px}
.layout{display:flex;gap:20px;align-items:flex-start}.graph-box{overflow:auto;border:1px solid #dadce0;border-radius:8px;flex:0 1 auto;max-width:72vw}
#details{flex:1;min-width:280px;border:1px solid #dadce0;border-radius:8px;padding:10px 14px}
#details pre{white-space:pre-wrap;word-break:break-all;background:#f8f9fa;padding:6px;border-radius:4px;max-height:220px;overflow:auto}
table{border-collapse:collapse;width:100%;margin-top:16px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;
vertical-align:top}th{background:#f8f9fa}td.data{font-family:monospace;font-size:12px;max-width:600px;overflow-wrap:anywhere}
"""

PAGE_SCRIPT = """
function pretty(text){if(text==null)return '';try{return JSON.stringify(JSON.parse(text),null,2)}catch(e){return text}}
function bind(){
  const data=JSON.parse(document.getElementById('state-data').textContent);
  document.querySelectorAll('g.state').forEach(g=>g.addEventListener('click',()=>{
    document.querySelectorAll('g.state.selected').forEach(s=>s.classList.remove('selected'));
    g.classList.add('selected');
    const run=data[g.dataset.state]||{name:g.dataset.state,status:'not_reached'};
    const d=document.getElementById('details');
    d.innerHTML='';
    const h=document.createElement('h3');h.textContent=run.name+' — '+run.status.replace('_',' ');d.appendChild(h);
    const rows=[['Type',g.dataset.type],['Retries',run.retries||0],['Error',run.error],['Cause',run.cause],
                ['Input',pretty(run.input)],['Output',pretty(run.output)]];
    rows.forEach(([k,v])=>{if(v===undefined||v===null||v==='')return;const b=document.createElement('b');b.textContent=k;
      const p=document.createElement('pre');p.textContent=String(v);d.appendChild(b);d.appendChild(p)});
  }));
}
bind();
const live=document.body.dataset.live==='true';
if(live){const timer=setInterval(async()=>{
  const r=await fetch(location.pathname+'/fragment',{cache:'no-store'});if(!r.ok)return;const f=await r.json();
  document.getElementById('live').innerHTML=f.html;bind();
  if(f.status!=='RUNNING'){clearInterval(timer);document.body.dataset.live='false'}
},1000)}
"""


def _events_table(events: list[dict[str, Any]], owner: dict[int, str], start: str | None) -> str:
    started = next((e for e in events if e["type"] == "ExecutionStarted"), None)
    origin = dt.datetime.fromisoformat(started["timestamp"].replace("Z", "+00:00")) if started else None
    rows = []
    for event in events:
        details = _details(event)
        stamp = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        elapsed = f"{(stamp - origin).total_seconds() * 1000:.0f} ms" if origin else ""
        data = {k: v for k, v in details.items() if not k.endswith("Details") and k != "name"}
        brief = html.escape(json.dumps(data, ensure_ascii=False)[:400]) if data else ""
        rows.append(f"<tr><td>{event['id']}</td><td>{html.escape(event['type'])}</td>"
                    f"<td>{html.escape(details.get('name') or owner.get(event['id'], ''))}</td>"
                    f"<td>{html.escape(event['timestamp'])}</td><td>{elapsed}</td><td class='data'>{brief}</td></tr>")
    return ("<table id='events'><thead><tr><th>ID</th><th>Type</th><th>Step</th><th>Timestamp</th><th>Elapsed</th>"
            "<th>Details</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def live_fragment(description: dict[str, Any], definition: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """The part of the execution page that changes while it runs: summary, graph, details, events."""
    running = description["status"] == "RUNNING"
    runs, owner = state_runs(events, running)
    summary = (f"<p><span class='status st-{description['status']}' id='execution-status'>{description['status']}</span> "
               f"started {_when(description['startDate'])} UTC · duration {duration(description)}"
               + (f" · <b>{html.escape(description.get('error') or '')}</b> {html.escape(description.get('cause') or '')[:300]}"
                  if description.get("error") else "") + "</p>")
    legend = "<p class='legend'>" + "".join(
        f"<span><i style='background:{FILL[s]};border-color:{STROKE[s]}'></i>{LABELS[s]}</span>" for s in STATUSES) + "</p>"
    data = json.dumps({name: run.to_json() for name, run in runs.items()}, ensure_ascii=False).replace("</", "<\\/")
    return (summary + legend + "<div class='layout'><div class='graph-box'>" + render_svg(definition, events, running)
            + "</div><div id='details'><p>Click a state to see its input, output, error and retries.</p></div></div>"
            + f"<script type='application/json' id='state-data'>{data}</script>"
            + _events_table(events, owner, description.get("startDate")))


def render_page(description: dict[str, Any], definition: dict[str, Any], events: list[dict[str, Any]], *,
                live: bool = True, home_link: bool = True) -> str:
    """The execution page: ``live`` polls ``<this page>/fragment`` while the execution runs."""
    running = live and description["status"] == "RUNNING"
    back = "<a href='/'>← Executions</a>" if home_link else ""
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(description['name'])} — {description['status']}</title>"
            f"<style>{PAGE_STYLE}</style></head><body data-live='{str(running).lower()}'>"
            f"<header>{back}<h1>{html.escape(description['name'])}</h1>"
            f"<span>{html.escape(description['stateMachineArn'])}</span></header>"
            f"<main><div id='live'>{live_fragment(description, definition, events)}</div></main>"
            f"<script>{PAGE_SCRIPT}</script></body></html>")


def render_list(executions: list[dict[str, Any]]) -> str:
    """The executions, newest first: name (linking to its page), state machine, status, start, duration."""
    rows = "".join(
        f"<tr><td><a href='/executions/{html.escape(e['name'])}'>{html.escape(e['name'])}</a></td>"
        f"<td>{html.escape(e['stateMachineArn'].rsplit(':', 1)[-1])}</td>"
        f"<td><span class='status st-{e['status']}'>{e['status']}</span></td>"
        f"<td>{_when(e['startDate'])}</td><td>{duration(e)}</td></tr>" for e in executions)
    refresh = "<meta http-equiv='refresh' content='2'>" if any(e["status"] == "RUNNING" for e in executions) else ""
    empty = "" if executions else "<p>No executions yet: start one with StartExecution or `etl run`.</p>"
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Executions — etl serve</title>"
            f"{refresh}<style>{PAGE_STYLE}</style></head><body><header><h1>Executions</h1></header><main>{empty}"
            "<table id='executions'><thead><tr><th>Name</th><th>State machine</th><th>Status</th><th>Started (UTC)</th>"
            f"<th>Duration</th></tr></thead><tbody>{rows}</tbody></table></main></body></html>")
