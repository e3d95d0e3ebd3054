"""`wasmcli traces flamegraph`: a self-contained, interactive SVG flamegraph of fuel.

Like flamegraph.pl's: each frame is a box as wide as the fuel spent in it and in what it
called (its stack's inclusive fuel), callees stacked on their callers; hover a box for
its fuel and share (a `<title>`), click it to zoom in (click the bottom bar to zoom
out), and Search (or Ctrl-F) highlights the frames whose names match a regular
expression and says what share of the fuel they hold. `icicle` draws the root at the
top. A differential flamegraph (`diff_against`) keeps the layout of this profile and
colors each frame by how its own fuel changed from the other profile: red for more, blue
for less, white for unchanged (flamegraph.pl's difffolded convention).

Everything is inline (style and script): the file needs no network. Names are the
plugin's text, escaped for XML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from wasmcli.profile.model import Profile

WIDTH = 1200
FRAME_HEIGHT = 17
PAD_TOP = 48
PAD_SIDE = 10
PAD_BOTTOM = 30
FONT = 11
CHAR_WIDTH = FONT * 0.59  # a monospace character at this size, for cutting names


@dataclass
class _Node:
    name: str
    self_fuel: int = 0
    total: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(profile: Profile) -> _Node:
    root = _Node("all")
    for stack in profile.stacks:
        node = root
        for frame in stack.frames:
            node = node.children.setdefault(frame, _Node(frame))
        node.self_fuel += stack.self_fuel

    def total(node: _Node) -> int:
        node.total = node.self_fuel + sum(total(child) for child in node.children.values())
        return node.total

    total(root)
    return root


def _self_by_path(profile: Profile) -> dict[tuple[str, ...], int]:
    found: dict[tuple[str, ...], int] = {}
    for stack in profile.stacks:
        found[stack.frames] = found.get(stack.frames, 0) + stack.self_fuel
    return found


def _warm(name: str) -> str:
    """flamegraph.pl's "hot" palette, chosen by the name (the same name, the same color)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{digest[1] % 230},{digest[2] % 55})"


def _diff_color(delta: int, scale: int) -> str:
    if delta == 0 or scale == 0:
        return "rgb(250,250,250)"
    strength = min(1.0, abs(delta) / scale)
    fade = int(250 - 190 * strength)
    return f"rgb(250,{fade},{fade})" if delta > 0 else f"rgb({fade},{fade},250)"


def flamegraph_svg(
    profile: Profile,
    *,
    title: str | None = None,
    icicle: bool = False,
    diff_against: Profile | None = None,
) -> str:
    """The SVG document (see the module docstring)."""
    root = _tree(profile)
    total = max(root.total, 1)
    frames: list[tuple[int, float, float, str, str, str]] = []  # depth, x, w, name, tip, fill
    before = _self_by_path(diff_against) if diff_against is not None else None
    after = _self_by_path(profile)
    deltas: dict[tuple[str, ...], int] = {}
    if before is not None:
        deltas = {path: after.get(path, 0) - before.get(path, 0) for path in after}
    scale = max((abs(d) for d in deltas.values()), default=0)

    max_depth = 0

    def place(node: _Node, path: tuple[str, ...], depth: int, x: float) -> None:
        nonlocal max_depth
        max_depth = max(max_depth, depth)
        share = node.total / total
        tip = f"{node.name} ({node.total:,} fuel, {100 * share:.2f}%)"
        if not path:
            fill = "rgb(230,230,230)"
        elif before is not None:
            delta = deltas.get(path, 0)
            was = before.get(path, 0)
            change = f"{delta:+,}" + (f", {100 * delta / was:+.1f}%" if was else "")
            tip += f"; self {after.get(path, 0):,} fuel ({change} vs the other run)"
            fill = _diff_color(delta, scale)
        else:
            fill = _warm(node.name)
        frames.append((depth, x, share, node.name, tip, fill))
        offset = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            place(child, (*path, child.name), depth + 1, offset)
            offset += child.total / total

    place(root, (), 0, 0.0)
    height = PAD_TOP + (max_depth + 1) * FRAME_HEIGHT + PAD_BOTTOM
    inner = WIDTH - 2 * PAD_SIDE
    heading = title or f"Fuel flamegraph: {profile.label}"
    if diff_against is not None:
        heading += f" vs {diff_against.label}"
    boxes = []
    for depth, x, share, name, tip, fill in frames:
        y = (
            PAD_TOP + depth * FRAME_HEIGHT
            if icicle
            else height - PAD_BOTTOM - (depth + 1) * FRAME_HEIGHT
        )
        px, pw = PAD_SIDE + x * inner, share * inner
        label = _fit(name, pw)
        boxes.append(
            f'<g class="f" data-x="{x:.9f}" data-w="{share:.9f}" data-d="{depth}" '
            f"data-n={quoteattr(name)}><title>{escape(tip)}</title>"
            f'<rect x="{px:.2f}" y="{y}" width="{max(pw - 0.5, 0.1):.2f}" '
            f'height="{FRAME_HEIGHT - 1}" fill="{fill}" rx="2"/>'
            f'<text x="{px + 3:.2f}" y="{y + FRAME_HEIGHT - 5}">{escape(label)}</text></g>'
        )
    legend = (
        "red: more fuel than the other run, blue: less"
        if diff_against is not None
        else "width: fuel (self and callees); click to zoom, Search or Ctrl-F to find"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'data-inner="{inner}" data-pad="{PAD_SIDE}">\n'
        f"<style>{_STYLE}</style>\n"
        f'<rect width="100%" height="100%" fill="#fbfbf4"/>\n'
        f'<text class="h" x="{WIDTH / 2}" y="20" text-anchor="middle">{escape(heading)}</text>\n'
        f'<text class="m" x="{PAD_SIDE}" y="38">{escape(legend)}</text>\n'
        f'<text id="reset" class="b" x="{WIDTH - 220}" y="38">Reset zoom</text>\n'
        f'<text id="search" class="b" x="{WIDTH - 120}" y="38">Search</text>\n'
        f'<text id="matched" class="m" x="{WIDTH - PAD_SIDE}" y="{height - 10}" '
        'text-anchor="end"></text>\n'
        '<g id="frames">\n' + "\n".join(boxes) + "\n</g>\n"
        f"<script><![CDATA[{_SCRIPT}]]></script>\n</svg>\n"
    )


def _fit(name: str, width: float) -> str:
    chars = int((width - 6) / CHAR_WIDTH)
    if chars < 3:
        return ""
    return name if len(name) <= chars else name[: chars - 2] + ".."


_STYLE = (
    "text{font-family:monospace;font-size:11px;fill:#000}"
    ".h{font-size:16px;font-weight:bold}.m{fill:#555}"
    ".b{fill:#0645ad;cursor:pointer;text-decoration:underline}"
    "g.f{cursor:pointer}g.f:hover rect{stroke:#000;stroke-width:0.5}"
    "g.f.hit rect{fill:rgb(230,0,230)!important}g.f.dim{opacity:0.55}"
)

# Zoom: the clicked frame fills the width, its callees scale with it, its callers stay
# (dimmed) and everything else hides. Search marks matching frames and sums the fuel of
# the outermost matches (so that nested matches are not counted twice).
_SCRIPT = r"""
(function(){
var svg=document.documentElement;
var inner=+svg.getAttribute('data-inner'),pad=+svg.getAttribute('data-pad');
var gs=[].slice.call(document.querySelectorAll('g.f'));
var cw=11*0.59;
function fit(g,w){var n=g.getAttribute('data-n'),c=Math.floor((w-6)/cw),t=g.querySelector('text');
 t.textContent=c<3?'':(n.length<=c?n:n.slice(0,c-2)+'..');}
function draw(x0,w0,d0){gs.forEach(function(g){
 var x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w'),d=+g.getAttribute('data-d');
 var r=g.querySelector('rect'),t=g.querySelector('text'),eps=1e-9,nx,nw;
 if(d>=d0&&x>=x0-eps&&x+w<=x0+w0+eps){
  nx=(x-x0)/w0;nw=w/w0;g.style.display='';g.classList.remove('dim');}
 else if(d<d0&&x<=x0+eps&&x+w>=x0+w0-eps){
  nx=0;nw=1;g.style.display='';g.classList.add('dim');}
 else{g.style.display='none';return;}
 var px=pad+nx*inner,pw=nw*inner;r.setAttribute('x',px);
 r.setAttribute('width',Math.max(pw-0.5,0.1));
 t.setAttribute('x',px+3);fit(g,pw);});}
gs.forEach(function(g){g.addEventListener('click',function(){
 draw(+g.getAttribute('data-x'),+g.getAttribute('data-w'),+g.getAttribute('data-d'));});});
document.getElementById('reset').addEventListener('click',function(){draw(0,1,0);});
function search(){var term=window.prompt('Search frames (regular expression)','');
 var m=document.getElementById('matched');gs.forEach(function(g){g.classList.remove('hit');});
 if(!term){m.textContent='';return;}
 var re;try{re=new RegExp(term);}catch(e){m.textContent='bad expression';return;}
 var spans=[];gs.forEach(function(g){if(re.test(g.getAttribute('data-n'))){g.classList.add('hit');
  spans.push([+g.getAttribute('data-x'),+g.getAttribute('data-w')]);}});
 spans.sort(function(a,b){return a[0]-b[0]||b[1]-a[1];});var sum=0,end=-1;
 spans.forEach(function(s){if(s[0]>=end-1e-9){sum+=s[1];end=s[0]+s[1];}});
 m.textContent='Matched: '+(100*sum).toFixed(2)+'% of the fuel';}
document.getElementById('search').addEventListener('click',search);
window.addEventListener('keydown',function(e){if((e.ctrlKey||e.metaKey)&&e.key==='f'){e.preventDefault();search();}});
})();
"""
